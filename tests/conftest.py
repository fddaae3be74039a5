import os
import sys
import tempfile
from pathlib import Path

# Tests never reach a hub: everything they load is local.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# No test writes to the user's cache.
os.environ.setdefault("WAVE_NETWORK_CACHE", tempfile.mkdtemp(prefix="wave-network-test-cache-"))

sys.path.insert(0, str(Path(__file__).parent))
