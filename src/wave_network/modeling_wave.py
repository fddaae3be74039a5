"""Wave Network models (arXiv 2411.02674) as Hugging Face ``PreTrainedModel`` subclasses.

``WaveModel`` returns per-token features and the pooled vector; ``WaveForSequenceClassification`` adds the
classifier head and the loss; ``WaveForMaskedLM`` a masked-token head for pre-training (``wave-network pretrain``),
whose ``wave.*`` weights a classifier starts from (``TrainConfig.init_from``). All are registered with the Auto
classes, so ``AutoModel.from_pretrained`` works on a
saved Wave Network and ``save_pretrained`` writes safetensors.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForSequenceClassification,
    PreTrainedModel,
)
from transformers.modeling_outputs import BaseModelOutputWithPooling, MaskedLMOutput, SequenceClassifierOutput

from .configuration_wave import WaveConfig
from .layers import Dropout, NGramBag, WaveBlock, WaveEmbeddings
from .ops import masked_mean, masked_token_loss
from .problem_types import IGNORE_INDEX, ProblemType

logger = logging.getLogger(__name__)


class WavePreTrainedModel(PreTrainedModel):
    config_class = WaveConfig
    base_model_prefix = "wave"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = False
    writes_model_card = True  # a text classifier's card; a pre-training head has none

    def save_pretrained(self, save_directory: str | os.PathLike, *args: Any, tokenizer: Any = None, **kwargs: Any):
        """``PreTrainedModel.save_pretrained``, plus what makes the directory usable on its own: the model's code
        (``auto_map``, for ``trust_remote_code=True``), its tokenizer and a model card (``README.md``).

        ``tokenizer`` is saved beside the weights; without one, a directory that holds no tokenizer yet gets the
        bundled bert-base-uncased WordPiece when the vocabulary is its size (30,522, what ``create_model`` builds
        by default), and a warning otherwise. An existing ``README.md`` is kept (a run writes a fuller one)."""
        super().save_pretrained(save_directory, *args, **kwargs)
        directory = Path(save_directory)
        if tokenizer is None and not (directory / "tokenizer_config.json").exists():
            tokenizer = _default_tokenizer(self.config.vocab_size)
        if tokenizer is not None:
            tokenizer.save_pretrained(directory)
        if self.writes_model_card and not (directory / "README.md").exists():
            _write_model_card(directory, self.config)

    @torch.no_grad()
    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            module.weight.normal_(mean=0.0, std=self.config.initializer_range)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding) and getattr(module, "zero_init", False):
            module.weight.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(mean=0.0, std=self.config.embedding_init_std)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()


class WaveModel(WavePreTrainedModel):
    """Embeddings -> ``num_layers`` wave blocks -> pooling. No classifier head."""

    def __init__(self, config: WaveConfig):
        super().__init__(config)
        self.embeddings = WaveEmbeddings(config)
        self.layers = nn.ModuleList(WaveBlock(config) for _ in range(config.num_layers))
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embeddings.word_embeddings = value

    def pool(self, hidden: Tensor, attention_mask: Tensor | None) -> Tensor:
        """[CLS] (first token) or masked mean pooling: (B, T, D) -> (B, D)."""
        if self.config.pooling == "cls":
            return hidden[:, 0]
        return masked_mean(hidden, attention_mask)

    def _embedding_dtype(self, output_hidden_states: bool) -> torch.dtype | None:
        """bf16 embeddings under bf16 autocast on the CPU when the first block feeds them only to its projections
        (no residual path keeps them, no hidden states are returned): the fp32 sum and its cast are never made."""
        first = self.layers[0] if len(self.layers) else None
        if output_hidden_states or first is None or first.residual or not torch.is_autocast_enabled("cpu"):
            return None
        return torch.get_autocast_dtype("cpu")

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        pooled_only: bool = False,
        **kwargs,
    ) -> BaseModelOutputWithPooling:
        """``input_ids`` (B, T) long and ``attention_mask`` (B, T) with 1 for real tokens.

        ``inputs_embeds`` (B, T, D) replaces the token-embedding lookup (positions and segments are still added),
        which lets analyses take gradients with respect to the input embeddings.

        ``pooled_only``: the caller needs ``pooler_output`` alone. With [CLS] pooling the last block then works
        on position 0 only (its wave mixing still takes G over every token; everything after it is position-wise),
        the same pooled vector for a fraction of the work, and ``last_hidden_state`` is ``None``.
        """
        x = self.embeddings(
            input_ids, token_type_ids, inputs_embeds, attention_mask, self._embedding_dtype(output_hidden_states)
        )  # (B, T, D)
        segments = token_type_ids if self.config.global_semantics == "segment" else None
        all_hidden = [x] if output_hidden_states else None
        first_only = pooled_only and self.config.pooling == "cls" and not output_hidden_states
        for i, layer in enumerate(self.layers):
            x = layer(x, attention_mask, segments, first_only and i == len(self.layers) - 1)  # (B, T or 1, D)
            if all_hidden is not None:
                all_hidden.append(x)
        if first_only:
            pooled = x[:, 0] if attention_mask is None else x[:, 0] * attention_mask[:, :1].to(x.dtype)  # (B, D)
            return BaseModelOutputWithPooling(last_hidden_state=None, pooler_output=pooled)
        if attention_mask is not None:
            # Padded positions carry defined but meaningless values; zero them so no consumer can pick them up.
            x = x * attention_mask.unsqueeze(-1).to(x.dtype)  # (B, T, D)
        pooled = self.pool(x, attention_mask)  # (B, D)
        return BaseModelOutputWithPooling(
            last_hidden_state=x,
            pooler_output=pooled,
            hidden_states=tuple(all_hidden) if all_hidden is not None else None,
        )


class WaveForSequenceClassification(WavePreTrainedModel):
    """Wave Network text classifier (paper section 4a): WaveModel -> dropout -> linear head, with the loss chosen by
    ``config.problem_type`` (cross-entropy, multi-label BCE or MSE regression). With ``config.bag_ngram_orders``, a
    linear model over the text's hashed n-grams adds its logits to the head's (``NGramBag``, the wide path)."""

    def __init__(self, config: WaveConfig):
        super().__init__(config)
        self.wave = WaveModel(config)
        self.dropout = Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.ngram_bag = NGramBag(config) if config.bag_ngram_orders else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wave.get_input_embeddings()

    def fit_text_statistics(
        self,
        texts: Iterable[list[int]],
        labels: Sequence | Tensor | None = None,
        validation: tuple[Iterable[list[int]], Sequence] | None = None,
    ) -> None:
        """Count what the model needs from the training texts (token-id lists) and their labels before gradient
        training: the wide path's document frequencies when ``config.bag_weighting == "tfidf"``, its log-count
        ratios when ``"nb"`` (which needs ``labels``); nothing otherwise. With ``config.bag_fit`` the wide path is
        then fitted by logistic regression or a linear SVM (``wide_fit.fit_wide_path``; its C chosen on
        ``validation``, a pair of texts and labels, unless ``config.bag_fit_c`` is set; with
        ``config.bag_fit_weightings`` once per weighting, the one most accurate on ``validation`` kept and written to
        ``config.bag_weighting``), the head's bias starts at its intercepts and its weight at zero (the model is
        then the linear model alone);
        ``texts`` is then read twice (a one-shot iterator is first copied to a list)."""
        if self.ngram_bag is None:
            return
        if self.config.bag_fit:
            if labels is None:
                raise ValueError("bag_fit=True fits the wide path to the training labels: pass them")
            if iter(texts) is texts:  # a one-shot stream: keep it for the second pass
                texts = list(texts)
        if not self.config.bag_fit:
            self.ngram_bag.count_statistics(texts, labels)
            return
        from .wide_fit import fit_wide_path

        bag, best = self.ngram_bag, None
        candidates = self.config.bag_fit_weightings or [self.config.bag_weighting]
        for weighting in candidates:
            if weighting != bag.weighting:
                bag.set_weighting(weighting)
            self.ngram_bag.count_statistics(texts, labels)
            fitted = fit_wide_path(bag, texts, labels, validation, self.config.bag_fit_c, self.config.bag_fit_loss)
            logger.info(
                "bag_fit: wide path (%s weighting) fitted, %s loss, C=%g, temperature %.3g%s",
                weighting,
                self.config.bag_fit_loss,
                fitted.c,
                fitted.temperature,
                "" if fitted.validation_accuracy is None else f", validation accuracy {fitted.validation_accuracy:.4f}",
            )
            if best is None or (fitted.validation_accuracy or 0.0) > (best[1].validation_accuracy or 0.0):
                best = (weighting, fitted, {name: t.clone() for name, t in bag.state_dict().items()})
            if fitted.validation_accuracy is None:  # nothing to choose the weighting on: the first one
                break
        weighting, fitted, state = best
        if weighting != bag.weighting:
            bag.set_weighting(weighting)
        bag.load_state_dict(state)
        self.config.bag_weighting = weighting  # saved with the model: it is what the table was fitted for
        with torch.no_grad():
            self.classifier.bias.copy_(torch.as_tensor(fitted.intercept, dtype=self.classifier.bias.dtype))
            # The wave path's share starts at zero, so the model before the first step is the fitted linear
            # model exactly (what validate_at_start scores as epoch 0); the head's gradient is not zero, so it
            # moves at the first step and the wave path's from the second.
            self.classifier.weight.zero_()

    def adopt_fitted_choices(self, config: WaveConfig) -> None:
        """Take over what a saved model's fit chose (``bag_fit_weightings``: the wide path's weighting, which sets
        its statistics buffer), so its weights load into this model built from the run's unfitted configuration."""
        if self.ngram_bag is not None and config.bag_weighting != self.ngram_bag.weighting:
            self.ngram_bag.set_weighting(config.bag_weighting)
            self.config.bag_weighting = config.bag_weighting

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        out = self.wave(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
            output_hidden_states=output_hidden_states,
            pooled_only=True,
        )
        logits = self.classifier(self.dropout(out.pooler_output))  # (B, C)
        if self.ngram_bag is not None and input_ids is not None:
            logits = logits + self.ngram_bag(input_ids, attention_mask)  # the wide path (B, C)
        loss = self.compute_loss(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)

    def compute_loss(self, logits: Tensor, labels: Tensor) -> Tensor:
        problem = self.config.problem_type
        if problem is None:
            problem = ProblemType.REGRESSION if self.config.num_labels == 1 else ProblemType.SINGLE_LABEL
        logits = logits.float()
        if problem == ProblemType.REGRESSION:
            return F.mse_loss(logits.squeeze(-1), labels.float())
        if problem == ProblemType.MULTI_LABEL:
            return F.binary_cross_entropy_with_logits(logits, labels.float())
        return F.cross_entropy(logits, labels.long())


class WaveForMaskedLM(WavePreTrainedModel):
    """Masked-token pre-training of the wave path (BERT's objective, Devlin et al. 2019, on the Wave Network of
    arXiv 2411.02674): WaveModel -> per-token transform (linear, GELU, LayerNorm) -> linear map to the vocabulary.
    The decoder is not tied to the token table, so the table can keep its sparse gradients
    (``config.sparse_embeddings``). The wide n-gram path of a classifier preset has no part here: it is a linear
    model of the labels and trains at fine-tuning.

    With the paper's text-level G a token's output depends on the whole (masked) text only through G and on its own
    position: the head learns what the text's global semantics say about a missing word. The order-aware G
    (``global_semantics="local"``) and more layers give it the word's context."""

    writes_model_card = False

    def __init__(self, config: WaveConfig):
        super().__init__(config)
        self.wave = WaveModel(config)
        self.transform = nn.Sequential(
            nn.Linear(config.hidden_size, config.hidden_size),
            nn.GELU(),
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps),
        )
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wave.get_input_embeddings()

    def get_output_embeddings(self) -> nn.Linear:
        return self.decoder

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        labels: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        """``labels`` (B, T): the original id of each masked token, ``IGNORE_INDEX`` elsewhere
        (``data.MaskingCollator`` makes both). With labels, ``logits`` are (N, V) for the N masked tokens only, in
        row-major order (the vocabulary projection of every token would cost T / N times more: about 7x at BERT's
        15%), and ``loss`` is their mean cross-entropy. Training (gradients on, ``model.train()``) computes the loss
        alone, in one fused kernel (``ops.masked_token_loss``), and returns no logits. Without labels, ``logits``
        are (B, T, V)."""
        hidden = self.wave(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            inputs_embeds=inputs_embeds,
        ).last_hidden_state  # (B, T, D)
        if labels is None:
            return MaskedLMOutput(logits=self.decoder(self.transform(hidden)))  # (B, T, V)
        chosen = labels != IGNORE_INDEX  # (B, T)
        masked, targets = hidden[chosen], labels[chosen]  # (N, D), (N,)
        if not len(targets):
            return MaskedLMOutput(loss=hidden.sum() * 0.0, logits=masked.new_zeros(0, self.config.vocab_size))
        if self.training and torch.is_grad_enabled():
            return MaskedLMOutput(loss=masked_token_loss(masked, self.transform, self.decoder, targets))
        logits = self.decoder(self.transform(masked))  # (N, V)
        return MaskedLMOutput(loss=F.cross_entropy(logits.float(), targets), logits=logits)


# A saved model names these classes in config.json's ``auto_map`` and carries this file, ``configuration_wave.py``,
# ``layers.py``, ``ops.py``, ``ngrams.py`` and ``problem_types.py`` (the relative imports, which transformers copies)
# beside its weights, so ``from_pretrained(DIR, trust_remote_code=True)`` loads it where this package is not
# installed. The Auto classes know ``model_type="wave"`` only through this
# package itself: a copy loaded as remote code must not replace the package's classes in a process that has both.
WaveConfig.register_for_auto_class()
WaveModel.register_for_auto_class("AutoModel")
WaveForSequenceClassification.register_for_auto_class("AutoModelForSequenceClassification")
WaveForMaskedLM.register_for_auto_class("AutoModelForMaskedLM")
if __name__.startswith("wave_network."):
    AutoConfig.register("wave", WaveConfig, exist_ok=True)
    AutoModel.register(WaveConfig, WaveModel, exist_ok=True)
    AutoModelForSequenceClassification.register(WaveConfig, WaveForSequenceClassification, exist_ok=True)
    AutoModelForMaskedLM.register(WaveConfig, WaveForMaskedLM, exist_ok=True)


BERT_VOCAB_SIZE = 30522  # the bert-base-uncased WordPiece vocabulary, bundled with the package


def _default_tokenizer(vocab_size: int) -> Any:
    """The bundled WordPiece tokenizer for a model of its vocabulary size, or ``None`` (with a warning)."""
    try:
        from wave_network.data import get_tokenizer
    except ImportError:  # loaded as remote code, without the package: nothing to fall back on
        get_tokenizer = None
    if vocab_size != BERT_VOCAB_SIZE or get_tokenizer is None:
        logger.warning(
            "save_pretrained: no tokenizer saved (the model's vocabulary has %d ids); pass tokenizer= so the "
            "directory can be used on its own",
            vocab_size,
        )
        return None
    return get_tokenizer()


def _write_model_card(directory: Path, config: WaveConfig) -> None:
    try:
        from wave_network.model_card import write_model_card
    except ImportError:  # loaded as remote code, without the package
        return
    write_model_card(directory, config)
