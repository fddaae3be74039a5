"""Parameter accounting: total, embedding and non-embedding counts.

The paper's "2.4 million parameters" (arXiv 2411.02674, section 4a) is the non-embedding count of the single-layer
model; the 24.6M of the proof-of-life implementation includes the 30,522 x 768 token-embedding table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn


@dataclass(frozen=True)
class ParameterCount:
    total: int
    embedding: int
    non_embedding: int
    trainable: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def count_parameters(model: nn.Module) -> ParameterCount:
    """Count parameters once each (shared tensors are not double-counted); ``embedding`` is every ``nn.Embedding``
    table (tokens, positions, segments).

    A model fitted without gradients (TF-IDF, fastText) holds its numbers outside ``nn.Parameter``s; it reports
    them through a ``fitted_parameter_count() -> ParameterCount`` method, which is used instead."""
    fitted = getattr(model, "fitted_parameter_count", None)
    if callable(fitted):
        return fitted()
    seen: set[int] = set()
    total = embedding = trainable = 0
    embedding_ids = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    for p in model.parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
        embedding += p.numel() if id(p) in embedding_ids else 0
    return ParameterCount(total=total, embedding=embedding, non_embedding=total - embedding, trainable=trainable)
