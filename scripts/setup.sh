#!/usr/bin/env bash
# Set up a virtual environment with wave-network and its test tools.
#   bash scripts/setup.sh            # .venv in the repository root
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
python -m pip install -e ".[dev]"
python -c "import torch, wave_network; print('wave-network', wave_network.__version__, 'torch', torch.__version__)"
