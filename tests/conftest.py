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

# CI runs the property and fuzz tests on a fixed sequence of examples (a red build then means a change broke
# something, not that a new random draw found an old bug); elsewhere every run draws new ones.
try:
    from hypothesis import settings as _hypothesis_settings
except ImportError:  # the dev extra is not installed: those test modules skip themselves
    pass
else:
    _hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        _hypothesis_settings.load_profile("ci")
