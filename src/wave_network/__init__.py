"""wave-network: Wave Network text classifiers (arXiv 2411.02674) and their analyses (arXiv 2411.06989)."""

from .configuration_wave import WaveConfig
from .modeling_wave import WaveForSequenceClassification, WaveModel, WavePreTrainedModel
from .params import ParameterCount, count_parameters
from .presets import Preset, get_preset, list_presets
from .registry import create_model, list_models, register_model, wave_config_from_preset

__version__ = "0.1.0"

__all__ = [
    "ParameterCount",
    "Preset",
    "WaveConfig",
    "WaveForSequenceClassification",
    "WaveModel",
    "WavePreTrainedModel",
    "count_parameters",
    "create_model",
    "get_preset",
    "list_models",
    "list_presets",
    "register_model",
    "wave_config_from_preset",
    "__version__",
]
