"""Parameter accounting: total, embedding and non-embedding counts.

The paper's "2.4 million parameters" (arXiv 2411.02674, section 4a) is the non-embedding count of the single-layer
model; the 24.6M of the proof-of-life implementation includes the 30,522 x 768 token-embedding table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from .capabilities import CountsFittedParameters


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
    them itself (``capabilities.CountsFittedParameters``), and that count is used instead."""
    if isinstance(model, CountsFittedParameters):
        return model.fitted_parameter_count()
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


def matmul_flops_per_token(config, tokens_per_text: float, training: bool = True) -> float:
    """Matrix-multiply FLOPs per real token of a ``WaveConfig`` model: what the GEMM ceiling bounds.

    Counts 2 FLOPs per multiply-add of every matrix product the logits depend on, per block: the two projections
    (2 x D x D), the [Re, Im] read-out (2D x D, ``readout="real_imag"``) and the feed-forward (2 x D x ffn_dim),
    plus the classifier (D x C) once per text. With [CLS] pooling the last block's work after its projections
    runs on one position per text (``WaveModel.forward(pooled_only=True)``), so it is divided by
    ``tokens_per_text``. Training multiplies by 3 (forward, and the backward's gradients of the inputs and of the
    weights: the usual 6 x parameters per token). Embedding lookups, the wave math, normalisation and the wide
    path's sparse sums are not matrix products and count 0, as in that convention; the sums of squares of G
    (2 x 2D FLOPs per token) are left out for the same reason.
    """
    D, F, C = config.hidden_size, config.ffn_dim, config.num_labels
    projections = 2 * D * D
    tail = (2 * D * D if config.readout == "real_imag" else 0) + 2 * D * F
    per_token = config.num_layers * projections + (config.num_layers - 1) * tail
    last_tail = tail / tokens_per_text if config.pooling == "cls" else tail
    macs = per_token + last_tail + D * C / tokens_per_text
    return 2 * macs * (3 if training else 1)
