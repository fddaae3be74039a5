"""The analyses of "The Backpropagation of the Wave Network" (arXiv 2411.06989) for any model of the registry:
gradient norms and the magnitude/phase split (``gradients``), convergence (``convergence``), independence of
embedding dimensions (``independence``) and computational complexity (``complexity``). ``api`` runs them and
writes JSON, Markdown and PNG; ``wave-network analyze`` is its command line. Definitions, where the paper gives
none, are in each module's docstring and in ``docs/analysis.md``."""

from .api import (
    AnalysisResult,
    IndependenceConfig,
    TrainingAnalysisConfig,
    analyze_complexity,
    analyze_convergence,
    analyze_gradients,
    analyze_independence,
)
from .complexity import ComplexityConfig
from .convergence import AccuracyCurve
from .gradients import GradientRecorder, hold_global_semantics

__all__ = [
    "AccuracyCurve",
    "AnalysisResult",
    "ComplexityConfig",
    "GradientRecorder",
    "IndependenceConfig",
    "TrainingAnalysisConfig",
    "analyze_complexity",
    "analyze_convergence",
    "analyze_gradients",
    "analyze_independence",
    "hold_global_semantics",
]
