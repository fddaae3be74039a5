import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Tests never reach a hub: everything they load is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# No test writes to the user's cache; the temporary one goes when the session ends.
if "WAVE_NETWORK_CACHE" not in os.environ:
    _cache = tempfile.mkdtemp(prefix="wave-network-test-cache-")
    os.environ["WAVE_NETWORK_CACHE"] = _cache
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)

sys.path.insert(0, str(Path(__file__).parent))
