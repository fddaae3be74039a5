"""Baselines built from Hugging Face BERT-family checkpoints: the fine-tuned encoder (paper Table 2's "BERT base")
and the paper's single Transformer layer on pre-trained BERT token embeddings (paper Table 1, 71.68% on AG News).

Both are plain ``transformers`` models (``BertForSequenceClassification`` or whatever ``AutoModel`` resolves), so
``save_pretrained`` / ``from_pretrained`` and the project's ``evaluate`` and ``predict`` work unchanged.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from transformers import AutoModel, AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification

from .checkpoints import quiet_transformers, resolve_checkpoint


def _check_vocab(model: nn.Module, vocab_size: int, checkpoint: str) -> None:
    have = model.get_input_embeddings().num_embeddings
    if have < vocab_size:
        raise ValueError(
            f"checkpoint {checkpoint!r} has {have} token embeddings but the tokenizer has {vocab_size} tokens: "
            f"tokenize with the checkpoint's own tokenizer (--tokenizer {checkpoint})"
        )


def build_bert(
    num_labels: int,
    vocab_size: int,
    max_length: int | None = None,
    checkpoint: str = "auto",
    **config_overrides: Any,
) -> nn.Module:
    """A pre-trained BERT-family encoder with a fresh classification head, fine-tuned end to end.

    Args:
        checkpoint: a Hugging Face name or local path; ``"auto"`` (bert-base-uncased when available, else the
            packaged all-MiniLM-L6-v2), ``"minilm"`` (the packaged one), or ``"scratch"`` (a randomly initialised
            ``BertConfig`` built from ``config_overrides``, for tests and from-scratch comparisons).
        config_overrides: config fields to change (``hidden_dropout_prob``, ...).
    """
    if checkpoint == "scratch":
        config = BertConfig(vocab_size=vocab_size, num_labels=num_labels, **config_overrides)
        return BertForSequenceClassification(config)
    path = resolve_checkpoint(checkpoint)
    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=num_labels, **config_overrides)
    _check_vocab(model, vocab_size, path)
    return model


def build_transformer_1layer(
    num_labels: int,
    vocab_size: int,
    max_length: int | None = None,
    checkpoint: str = "auto",
    freeze_embeddings: bool = False,
    **config_overrides: Any,
) -> nn.Module:
    """Paper Table 1's "single Transformer layer on pre-trained BERT token embeddings".

    The paper gives no further detail. Here: the checkpoint's whole embedding block (word, position and segment
    embeddings and their LayerNorm) is copied into a ``BertForSequenceClassification`` with one randomly
    initialised encoder layer of the checkpoint's width, heads and feed-forward size, a fresh pooler and a fresh
    head; everything is trained (``freeze_embeddings=True`` keeps the embeddings fixed). ``checkpoint="scratch"``
    starts the embeddings from random too.
    """
    if checkpoint == "scratch":
        config = BertConfig(
            vocab_size=vocab_size, num_labels=num_labels, **{"num_hidden_layers": 1, **config_overrides}
        )
        return BertForSequenceClassification(config)
    path = resolve_checkpoint(checkpoint)
    with quiet_transformers():
        source = AutoModel.from_pretrained(path)
    if getattr(source, "embeddings", None) is None or source.config.model_type != "bert":
        raise ValueError(
            f"transformer-1layer copies a BERT embedding block; checkpoint {checkpoint!r} is a "
            f"{source.config.model_type!r} model"
        )
    fields = {k: v for k, v in source.config.to_dict().items() if k not in ("id2label", "label2id", "architectures")}
    config = BertConfig(**{**fields, "num_hidden_layers": 1, "num_labels": num_labels, **config_overrides})
    model = BertForSequenceClassification(config)
    model.bert.embeddings.load_state_dict(source.embeddings.state_dict())
    model.config.embeddings_from = path  # recorded in config.json
    if freeze_embeddings:
        model.bert.embeddings.requires_grad_(False)
    _check_vocab(model, vocab_size, path)
    return model
