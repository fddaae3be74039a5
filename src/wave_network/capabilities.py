"""What a model can do beyond the shared interface (``forward(input_ids, attention_mask) -> logits``), as small
protocols the training loop asks for with ``isinstance`` instead of probing attributes.

A model states a capability by having the method (the protocols are structural); the classes in this package that
have one also inherit the protocol, so the statement is visible where the class is defined. Each protocol says what
``train`` does with a model that has it:

- ``FitsWithoutGradients``: fitted in one pass over the training batches (counting, a closed-form or library
  solver); no optimiser is built and ``TrainConfig`` needs no learning rate for it.
- ``NeedsTextStatistics``: counts statistics of the training texts before gradient training starts.
- ``CountsFittedParameters``: holds its fitted numbers outside ``nn.Parameter``s and counts them itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import torch

    from .params import ParameterCount


@runtime_checkable
class FitsWithoutGradients(Protocol):
    """A model that learns without gradients. ``train`` calls ``fit_batches`` once with every training batch
    (``training.loop.fit_without_gradients``) instead of running gradient epochs, then validates, checkpoints and
    tests it like any other model; it builds no optimiser, so ``TrainConfig.resolved`` leaves ``learning_rate``
    unset, and it trains in one process only."""

    def fit_batches(self, batches: list[dict[str, torch.Tensor]]) -> None:
        """Fit on ``batches`` (dicts of ``input_ids``, ``attention_mask``, ``labels``), after which ``forward``
        returns logits."""


@runtime_checkable
class NeedsTextStatistics(Protocol):
    """A model that counts statistics of the training texts (document frequencies, Naive Bayes log-count ratios)
    before training. ``train`` calls ``fit_text_statistics`` once with the training split's token ids and labels
    after building the model and before the first step; a resumed run restores them with the weights instead."""

    def fit_text_statistics(
        self,
        texts: Iterable[list[int]],
        labels: Sequence[Any] | None = None,
        validation: tuple[Iterable[list[int]], Sequence[Any]] | None = None,
    ) -> None:
        """Count from ``texts`` (one list of token ids per text; an iterable that may be read more than once) and
        their ``labels``; ``validation`` (texts, labels) is for choices a fit makes on held-out data."""


@runtime_checkable
class CountsFittedParameters(Protocol):
    """A model whose fitted numbers are not ``nn.Parameter``s (a scikit-learn estimator, a fastText model).
    ``params.count_parameters``, and so a run's ``results.json``, reports what ``fitted_parameter_count`` says
    instead of counting parameters."""

    def fitted_parameter_count(self) -> ParameterCount:
        """The fitted model's parameter count (only meaningful once it is fitted)."""


__all__ = ["CountsFittedParameters", "FitsWithoutGradients", "NeedsTextStatistics"]
