"""wave-network: Wave Network text classifiers (arXiv 2411.02674) and their analyses (arXiv 2411.06989)."""

import os

# PyTorch backs CPU tensors of 2 MB and more with transparent huge pages when this is set before it first allocates:
# a fresh (64, 512, 768) activation then costs 50 page faults instead of 25,600, which made an IMDB-shape training
# step about 20% faster here at a lower peak RSS than any malloc tuning (benchmarks/efficiency.py). Without effect
# where torch was imported first or the kernel has no transparent huge pages; a user's own setting wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from .classifier import TextClassifier, train_supervised
from .configuration_wave import WaveConfig
from .modeling_wave import WaveForMaskedLM, WaveForSequenceClassification, WaveModel, WavePreTrainedModel
from .params import ParameterCount, count_parameters
from .presets import Preset, get_preset, list_presets
from .registry import create_model, list_models, register_model, wave_config_from_preset

__version__ = "0.1.0"

__all__ = [
    "ParameterCount",
    "TextClassifier",
    "Preset",
    "WaveConfig",
    "WaveForMaskedLM",
    "WaveForSequenceClassification",
    "WaveModel",
    "WavePreTrainedModel",
    "count_parameters",
    "create_model",
    "get_preset",
    "list_models",
    "list_presets",
    "register_model",
    "train_supervised",
    "wave_config_from_preset",
    "__version__",
]
