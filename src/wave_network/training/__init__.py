"""The one training loop for every model, and everything around it.

``train(TrainConfig(...))`` runs a model from the registry on a data set and writes a run directory;
``evaluate`` and ``predict`` use a saved model directory. Under ``torchrun`` the same ``train`` call trains
data-parallel.
"""

from .callbacks import Callback
from .config import TrainConfig
from .evaluation import evaluate_model
from .inference import evaluate, load_model, predict
from .loop import LoopContext, NonFiniteLossError, TrainState, fit, fit_without_gradients
from .metrics import compute_metrics
from .runner import RunResult, train

__all__ = [
    "Callback",
    "LoopContext",
    "NonFiniteLossError",
    "RunResult",
    "TrainConfig",
    "TrainState",
    "compute_metrics",
    "evaluate",
    "evaluate_model",
    "fit",
    "fit_without_gradients",
    "load_model",
    "predict",
    "train",
]
