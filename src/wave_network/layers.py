"""Building blocks of the Wave Network: embeddings, wave mixing, feed-forward, one block (paper section 4a, Eq. 8).

Shapes: B batch, T tokens, D width.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pad_sequence

from .configuration_wave import WaveConfig
from .ngrams import hashed_ngram_ids
from .ops import embed_tokens, interference, magnitude, modulation, token2wave, wave_modulation

# The CPU dropout mask's resolution: each element gets 15 random bits, so p is used as round(p * 2^15) / 2^15.
_MASK_LEVELS = 1 << 15


class _MaskedScale(torch.autograd.Function):
    """x * keep * scale, saving the boolean mask (1 byte per element) instead of a float copy of it; with
    ``inplace`` it overwrites x (which no other operation may need)."""

    @staticmethod
    def forward(ctx, x: Tensor, keep: Tensor, scale: float, inplace: bool) -> Tensor:  # noqa: ANN001
        ctx.save_for_backward(keep)
        ctx.scale = scale
        if inplace:
            ctx.mark_dirty(x)
            return x.mul_(keep).mul_(scale)
        return (x * keep).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: ANN001
        (keep,) = ctx.saved_tensors
        return (grad * keep).mul_(ctx.scale), None, None, None


def _keep_mask(shape: torch.Size, threshold: int, device: torch.device) -> Tensor:
    """Boolean mask, each element False with probability threshold / 2^15: four 15-bit lanes from every 64-bit
    draw of the default generator (``random_`` on int64 draws in [0, 2^63), so each 16-bit lane's low 15 bits
    are uniform), a quarter of the generator calls of ``torch.rand``."""
    n = math.prod(shape)
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device).random_()
    lanes = words.view(torch.int16)[:n].view(shape)
    return lanes.bitwise_and_(_MASK_LEVELS - 1) >= threshold


class Dropout(nn.Dropout):
    """``nn.Dropout`` (inverted dropout: zero each element with probability p, scale the rest by 1 / (1 - p)) with
    a faster CPU mask. The mask takes 15 random bits per element, four elements per 64-bit draw, so the rate is p
    rounded to a multiple of 2^-15 (0.1 -> 0.100006, 0.3 -> 0.299988) and the kept elements are scaled by
    1 / (1 - that rate), which keeps the expectation exact; only the boolean mask is saved for the backward pass.
    On a 2-core CPU (PyTorch 2.13, 8.4M elements) the mask took 14 ms against 40 for ``torch.rand`` and 58 for
    ``bernoulli_``; ``benchmarks/dropout_speed.py`` times the layer against ``nn.Dropout``.
    Elsewhere (CUDA's fused kernel), in eval mode and for a rate that 15 bits cannot represent within 0.1% it is
    ``nn.Dropout``."""

    def uses_cpu_mask(self, device: torch.device) -> bool:
        """Whether a training forward pass on ``device`` draws the 15-bit mask (else it is ``nn.Dropout``'s)."""
        threshold = round(self.p * _MASK_LEVELS)
        exact = threshold > 0 and abs(threshold / _MASK_LEVELS - self.p) <= 1e-3 * self.p
        return 0.0 < self.p < 1.0 and device.type == "cpu" and exact

    def keep_mask(self, shape: tuple[int, ...], device: torch.device) -> tuple[Tensor, float]:
        """The boolean keep mask of a training forward pass over ``shape`` and the scale of the kept elements (the
        draw ``forward`` makes; for callers that fuse the dropout into their own kernel)."""
        threshold = round(self.p * _MASK_LEVELS)
        return _keep_mask(torch.Size(shape), threshold, device), 1.0 / (1.0 - threshold / _MASK_LEVELS)

    def forward(self, x: Tensor, inplace: bool | None = None) -> Tensor:
        """``inplace`` (default: the layer's ``inplace``) overwrites ``x``: for a fresh tensor nothing else uses."""
        inplace = self.inplace if inplace is None else inplace
        if not self.training or not self.uses_cpu_mask(x.device):
            return nn.functional.dropout(x, self.p, self.training, inplace)
        keep, scale = self.keep_mask(x.shape, x.device)
        return _MaskedScale.apply(x, keep, scale, inplace)


def sinusoidal_table(num_positions: int, dim: int) -> Tensor:
    """Fixed sine/cosine position encodings (Vaswani et al. 2017, section 3.5), (num_positions, dim)."""
    position = torch.arange(num_positions, dtype=torch.float32).unsqueeze(1)  # (P, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (ceil(D/2),)
    table = torch.zeros(num_positions, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return table


class WaveEmbeddings(nn.Module):
    """Token embeddings plus optional position and segment embeddings (paper section 4a: "randomly initialised
    torch.nn.Embedding + positional encoding")."""

    def __init__(self, config: WaveConfig):
        super().__init__()
        sparse = config.sparse_embeddings
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id, sparse=sparse
        )
        self.position_embedding = config.position_embedding
        if config.position_embedding == "learned":
            self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        elif config.position_embedding == "sinusoidal":
            table = sinusoidal_table(config.max_position_embeddings, config.hidden_size)
            self.register_buffer("position_table", table, persistent=False)
        self.ngram_orders = tuple(config.ngram_orders)
        self.ngram_buckets = config.ngram_buckets
        # row 0 is "no n-gram here" and stays zero
        self.ngram_embeddings = (
            nn.Embedding(config.ngram_buckets + 1, config.hidden_size, padding_idx=0, sparse=sparse)
            if self.ngram_orders
            else None
        )
        if self.ngram_embeddings is not None:
            # Zero start: most n-grams of a test text are rare or unseen in training, and a random row would add
            # noise as large as a token embedding to every such position. At zero, an n-gram contributes only what
            # training taught it (wave-ngram, AG News subset, seed 42: 82.1% test with N(0, 0.1^2) rows, 83.9% at 0).
            self.ngram_embeddings.zero_init = True
        self.token_type_embeddings = (
            nn.Embedding(config.type_vocab_size, config.hidden_size) if config.type_vocab_size > 0 else None
        )
        self.dropout = Dropout(config.dropout)

    def forward(
        self,
        input_ids: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        attention_mask: Tensor | None = None,
        out_dtype: torch.dtype | None = None,
    ) -> Tensor:
        """Sum of token, hashed n-gram, position and segment embeddings; ``inputs_embeds`` (B, T, D) replaces the
        token lookup (the n-grams, which need ``input_ids``, are then still added when ids are given).
        ``out_dtype``: the dtype of the result (default: the tables'); bf16 where the only consumer is a linear
        layer under bf16 autocast. Token and position embeddings alone run fused (``ops.embed_tokens``)."""
        if self._fusable(input_ids, inputs_embeds):
            return self._fused(input_ids, out_dtype)
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds  # (B, T, D)
        # A looked-up x is a fresh tensor that no backward pass needs: add to it and drop out in place (two fewer
        # (B, T, D) tensors at the peak). Never a caller's inputs_embeds, nor a lookup a forward hook may hold on to
        # (the gradient analysis keeps it to read its gradient).
        fresh = inputs_embeds is None and not self.word_embeddings._forward_hooks

        def add(x: Tensor, y: Tensor) -> Tensor:
            return x.add_(y) if fresh else x + y

        if self.ngram_embeddings is not None and input_ids is not None:
            for order in self.ngram_orders:
                buckets = hashed_ngram_ids(input_ids, attention_mask, order, self.ngram_buckets)  # (B, T)
                x = add(x, self.ngram_embeddings(buckets))  # (B, T, D)
        T = x.shape[1]
        if self.position_embedding == "learned":
            x = add(x, self.position_embeddings.weight[:T])  # (B, T, D)
        elif self.position_embedding == "sinusoidal":
            x = add(x, self.position_table[:T].to(x.dtype))  # (B, T, D)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros(x.shape[:2], dtype=torch.long, device=x.device)
            x = add(x, self.token_type_embeddings(token_type_ids))  # (B, T, D)
        return self.dropout(x, inplace=fresh).to(out_dtype or x.dtype)

    def _fusable(self, input_ids: Tensor | None, inputs_embeds: Tensor | None) -> bool:
        """Whether ``ops.embed_tokens`` computes this forward pass: token and position embeddings only, on the
        CPU, with the lookup not observed by a forward hook (the gradient analysis reads it)."""
        table = self.word_embeddings
        return (
            inputs_embeds is None
            and input_ids is not None
            and input_ids.device.type == "cpu"
            and self.ngram_embeddings is None
            and self.token_type_embeddings is None
            and not table._forward_hooks
            and not table._forward_pre_hooks
            and table.max_norm is None
            and (not self.training or self.dropout.p == 0 or self.dropout.uses_cpu_mask(input_ids.device))
        )

    def _fused(self, input_ids: Tensor, out_dtype: torch.dtype | None) -> Tensor:
        T = input_ids.shape[1]
        if self.position_embedding == "learned":
            positions = self.position_embeddings.weight[:T]  # (T, D)
        elif self.position_embedding == "sinusoidal":
            positions = self.position_table[:T]  # (T, D)
        else:
            positions = None
        table = self.word_embeddings
        keep, scale = None, 1.0
        if self.training and self.dropout.p > 0:
            keep, scale = self.dropout.keep_mask((*input_ids.shape, table.embedding_dim), input_ids.device)
        return embed_tokens(
            input_ids,
            table.weight,
            positions,
            keep,
            scale,
            out_dtype=out_dtype,
            padding_idx=table.padding_idx,
            sparse=table.sparse,
        )  # (B, T, D)


def padded_batches(texts: Iterable[list[int]], batch_size: int = 1024) -> Iterator[tuple[Tensor, Tensor]]:
    """``texts`` (token-id lists, consumed ``batch_size`` at a time) as padded ``(ids, mask)`` batches (b, T)."""
    texts = iter(texts)
    while chunk := [torch.as_tensor(list(t), dtype=torch.long) for t in itertools.islice(texts, batch_size)]:
        ids = pad_sequence(chunk, batch_first=True)  # (b, T)
        yield ids, (torch.arange(ids.shape[1]) < torch.tensor([len(t) for t in chunk])[:, None]).long()


class NGramBag(nn.Module):
    """The wide path: a linear classifier over the text's bag of hashed n-grams (fastText without its hidden layer,
    Joulin et al. 2017; the "wide" half of Wide & Deep, Cheng et al. 2016). Every n-gram of ``bag_ngram_orders``
    gets ``num_labels`` weights from a hashed table; the text's features weight them and the result is added to
    the logits. ``bag_weighting``: ``"mean"`` averages the weights of all the text's n-grams; ``"tfidf"`` weights
    each distinct n-gram by (1 + log tf) * idf and L2-normalises per text, the features of a TF-IDF model
    (sublinear tf, smoothed idf), with document frequencies counted once on the training texts by
    ``fit_document_frequencies`` (saved with the model as the buffer ``idf``); ``"nb"`` weights each distinct
    n-gram j of the text, for class c, by the Naive Bayes log-count ratio r_jc (NBSVM, Wang & Manning 2012,
    "Baselines and Bigrams"; one class against the rest) and L2-normalises per text and class, with the ratios
    counted once on the labelled training texts by ``fit_log_count_ratios`` (saved as the buffer ``nb_ratio``).

    The table starts at zero, so training starts from the wave path alone and an n-gram never seen in training
    contributes nothing. The result is multiplied by ``config.bag_scale``: the table trains with Adam, whose step
    size does not depend on the gradient's scale, so the multiplier is the wide path's learning rate relative to
    the wave path's.
    """

    def __init__(self, config: WaveConfig):
        super().__init__()
        self.orders = tuple(config.bag_ngram_orders)
        self.buckets = config.bag_buckets
        self.scale = config.bag_scale
        self.weighting = config.bag_weighting
        # row 0 is "no n-gram here" and stays zero
        self.weights = nn.Embedding(
            config.bag_buckets + 1, config.num_labels, padding_idx=0, sparse=config.sparse_embeddings
        )
        self.weights.zero_init = True
        self.weights.weight.requires_grad_(config.bag_trainable)  # frozen: only bag_fit moves it
        self._register_statistics()

    def _register_statistics(self) -> None:
        """The buffer the weighting counts on the training texts (saved with the model): ``idf`` or ``nb_ratio``."""
        rows, device = self.buckets + 1, self.weights.weight.device
        if self.weighting == "tfidf":
            self.register_buffer("idf", torch.ones(rows, device=device))
        elif self.weighting == "nb":
            self.register_buffer("nb_ratio", torch.ones(rows, self.weights.embedding_dim, device=device))

    def set_weighting(self, weighting: str) -> None:
        """Switch to another ``bag_weighting`` (``bag_fit_weightings`` tries each): the old statistics buffer is
        dropped and the new one starts uncounted (all ones), to be counted by ``fit_document_frequencies`` or
        ``fit_log_count_ratios``."""
        for name in ("idf", "nb_ratio"):
            self._buffers.pop(name, None)
        self.weighting = weighting
        self._register_statistics()

    def ngram_ids(self, input_ids: Tensor, attention_mask: Tensor | None) -> Tensor:
        """Bucket ids (B, orders * T) of every n-gram of each text; 0 where there is none."""
        return torch.cat([hashed_ngram_ids(input_ids, attention_mask, n, self.buckets) for n in self.orders], 1)

    def _document_frequencies(
        self, texts: Iterable[list[int]], groups: Tensor | None, n_groups: int, batch_size: int = 1024
    ) -> tuple[Tensor, int]:
        """(n_groups, buckets + 1) counts of the texts of each group (``groups`` (N,) ids in [0, n_groups); ``None``:
        every text in group 0) that hold each n-gram at least once, and the number of texts. ``texts`` is consumed
        ``batch_size`` texts at a time (it may stream)."""
        rows = self.buckets + 1
        df = torch.zeros(n_groups, rows, dtype=torch.float64)
        start = 0
        for ids, mask in padded_batches(texts, batch_size):
            grams = self.ngram_ids(ids, mask)  # (b, orders * T)
            keys = torch.unique(torch.arange(len(ids))[:, None] * rows + grams)  # (text, n-gram) pairs
            group = 0 if groups is None else groups[start : start + len(ids)][keys // rows]
            df.view(-1).index_add_(0, group * rows + keys % rows, torch.ones(len(keys), dtype=torch.float64))
            start += len(ids)
        return df, start

    def count_statistics(self, texts: Iterable[list[int]], labels: Sequence | Tensor | None = None) -> None:
        """Count what the weighting needs from the training texts (token-id lists): document frequencies for
        ``"tfidf"``, log-count ratios for ``"nb"`` (from ``labels``); nothing for ``"mean"``."""
        if self.weighting == "tfidf":
            self.fit_document_frequencies(texts)
        elif self.weighting == "nb":
            if labels is None:
                raise ValueError("bag_weighting='nb' counts its log-count ratios from the training labels: pass them")
            self.fit_log_count_ratios(texts, torch.as_tensor(labels))

    @torch.no_grad()
    def fit_document_frequencies(self, texts: Iterable[list[int]]) -> None:
        """Set ``idf`` = ln((1 + N) / (1 + df)) + 1 from N training texts (token-id lists), as scikit-learn's
        smoothed idf, and 0 for n-grams no training text has. Only for ``bag_weighting="tfidf"``."""
        df, n_texts = self._document_frequencies(texts, None, 1)
        df = df[0]
        idf = torch.log((1 + n_texts) / (1 + df)) + 1
        idf[df == 0] = 0.0  # never seen in training: dropped, like a word outside a TF-IDF vocabulary
        idf[0] = 0.0  # "no n-gram here"
        self.idf.copy_(idf.to(self.idf.dtype))

    @torch.no_grad()
    def fit_log_count_ratios(self, texts: Iterable[list[int]], labels: Tensor, alpha: float = 1.0) -> None:
        """Set ``nb_ratio`` from the training texts (token-id lists) and their class ids (N,): for class c,
        r_jc = log((p_jc / |p_c|_1) / (q_jc / |q_c|_1)) with p_jc = alpha + the texts of class c that hold n-gram
        j and q_jc = alpha + the other texts that do (NBSVM's binarised counts), the norms summed over the
        n-grams seen in training. Unseen n-grams (and row 0) get 0. Only for ``bag_weighting="nb"``."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        if labels.dim() != 1 or (len(labels) and (labels.min() < 0 or labels.max() >= self.nb_ratio.shape[1])):
            raise ValueError(
                f"bag_weighting='nb' needs one class id in [0, {self.nb_ratio.shape[1]}) per training text "
                "(single-label classification)"
            )
        df, _ = self._document_frequencies(texts, labels, self.nb_ratio.shape[1])  # (C, buckets + 1)
        seen = df.sum(0) > 0
        seen[0] = False
        p = (df + alpha) * seen  # (C, rows) this class's texts
        q = (df.sum(0, keepdim=True) - df + alpha) * seen  # (C, rows) the other classes' texts
        ratio = torch.log(p / p.sum(1, keepdim=True)) - torch.log(q / q.sum(1, keepdim=True))
        self.nb_ratio.copy_(torch.where(seen, ratio, 0.0).T.to(self.nb_ratio.dtype))

    def pair_values(self, input_ids: Tensor, attention_mask: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
        """The texts' wide-path features as sparse triples: ``text`` (U,) and ``gram`` (U,) ids of each distinct
        (text, n-gram) pair and its feature ``value`` (U, 1), shared by every class, or (U, C) for ``"nb"``, whose
        features differ per class. The logits are ``bag_scale * sum over the text's pairs of value * weights[gram]``.
        """
        ids = self.ngram_ids(input_ids, attention_mask)  # (B, K)
        B, rows = ids.shape[0], self.buckets + 1
        keys, tf = torch.unique(torch.arange(B, device=ids.device)[:, None] * rows + ids, return_counts=True)
        text, gram = keys // rows, keys % rows  # (U,) each distinct (text, n-gram) pair once
        keep = gram > 0
        text, gram, tf = text[keep], gram[keep], tf[keep]
        if self.weighting == "mean":
            count = torch.zeros(B, device=ids.device).index_add_(0, text, tf.float()).clamp(min=1)  # (B,)
            return text, gram, (tf / count[text])[:, None]
        if self.weighting == "nb":
            ratio = self.nb_ratio[gram]  # (U, C) binarised counts x log-count ratios; 0 where gram is unseen
            norm = torch.zeros(B, ratio.shape[1], device=ids.device).index_add_(0, text, ratio * ratio)
            return text, gram, ratio / norm.sqrt().clamp(min=1e-12)[text]  # (U, C) L2-normalised per text, class
        value = (1 + torch.log(tf.float())) * self.idf[gram]  # (U,) sublinear tf x idf
        norm = torch.zeros(B, device=ids.device).index_add_(0, text, value * value).sqrt().clamp(min=1e-12)
        return text, gram, (value / norm[text])[:, None]  # (U, 1) L2-normalised per text

    def forward(self, input_ids: Tensor, attention_mask: Tensor | None) -> Tensor:
        """Logits (B, C) of the bag of n-grams of ``input_ids`` (B, T)."""
        if self.weighting == "mean":  # the same as pair_values' tf / count, without sorting the n-grams
            ids = self.ngram_ids(input_ids, attention_mask)  # (B, K)
            count = (ids > 0).sum(1, keepdim=True).clamp(min=1)  # (B, 1) n-grams per text
            return self.scale * self.weights(ids).sum(1) / count  # (B, C)
        text, gram, value = self.pair_values(input_ids, attention_mask)
        logits = torch.zeros(
            input_ids.shape[0], self.weights.embedding_dim, device=input_ids.device, dtype=self.weights.weight.dtype
        )
        return self.scale * logits.index_add_(0, text, value * self.weights(gram))  # (B, C)


class WaveMixing(nn.Module):
    """g(f(W)) of paper Eq. 8: two linear variants of the tokens become complex waves (Token2Wave, section 3.1),
    are mixed by interference or modulation (section 3.2) and read back to real vectors by ``config.readout``.

    The only exchange of information between tokens is the global semantics G of each variant, computed over the
    real tokens only (padding is masked after the projection biases are added).
    """

    def __init__(self, config: WaveConfig):
        super().__init__()
        D = config.hidden_size
        self.proj_a = nn.Linear(D, D)
        self.proj_b = nn.Linear(D, D)
        self.combine = modulation if config.wave_mode == "modulation" else interference
        self.readout = config.readout
        self.readout_proj = nn.Linear(2 * D, D) if config.readout == "real_imag" else None
        self.eps = config.wave_eps
        # Order-aware variants (beyond the paper): "local" takes both waves' G over each token's window of
        # neighbours; "text+local" modulates the text-level wave of the first projection with the local wave of the
        # second, so each token's phase carries both the whole text and its own context.
        scope = getattr(config, "global_semantics", "text")
        radius = getattr(config, "local_window", 0)
        self.local_a = radius if scope == "local" else None
        self.local_b = radius if scope in ("local", "text+local") else None
        # Analysis switch, not configuration: True holds G constant in the backward pass (same forward values), so
        # gradients flow only through each token's own phase (``wave_network.analysis.gradients``).
        self.hold_global_semantics = False

    def forward(
        self, x: Tensor, attention_mask: Tensor | None, segments: Tensor | None = None, first_only: bool = False
    ) -> Tensor:
        """``segments`` (B, T) ids: global semantics per segment of a sentence pair instead of per text.
        ``first_only``: the output at position 0 only, (B, 1, D), G still taken over every real token."""
        hold = self.hold_global_semantics
        # Results in the layer's own dtype, whatever the input's (bf16 embeddings under autocast; see WaveModel).
        dtype = self.proj_a.weight.dtype
        fusable = self.local_b is None  # the fused kernel takes G per text or per segment
        if fusable and self.combine is modulation and self.readout in ("real", "real_imag"):
            return self._fused_modulation(x, attention_mask, segments, first_only, dtype)
        z_a = token2wave(self.proj_a(x), attention_mask, self.eps, hold, segments, self.local_a)  # 2 x (B, T, D)
        z_b = token2wave(self.proj_b(x), attention_mask, self.eps, hold, segments, self.local_b)  # 2 x (B, T, D)
        if first_only:
            z_a, z_b = (z_a[0][:, :1], z_a[1][:, :1]), (z_b[0][:, :1], z_b[1][:, :1])  # 2 x (B, 1, D)
        z = self.combine(z_a, z_b)  # 2 x (B, T, D)
        if self.readout == "magnitude":
            out = magnitude(z)  # (B, T, D)
        elif self.readout == "real":
            out = z[0]  # (B, T, D)
        else:
            out = self.readout_proj(torch.cat(z, dim=-1).to(dtype))  # (B, T, D)
        return out.to(dtype)

    def _fused_modulation(
        self, x: Tensor, attention_mask: Tensor | None, segments: Tensor | None, first_only: bool, dtype: torch.dtype
    ) -> Tensor:
        """Modulation through ``ops.wave_modulation``: both projections in one GEMM (D -> 2D), and Token2Wave,
        modulation and the read-out's input in one pass that recomputes instead of saving (same values)."""
        weight = torch.cat((self.proj_a.weight, self.proj_b.weight))  # (2D, D)
        bias = torch.cat((self.proj_a.bias, self.proj_b.bias))  # (2D,)
        ab = nn.functional.linear(x, weight, bias)  # (B, T, 2D)
        imag = self.readout == "real_imag"
        # [Re, Im] feeds a linear layer that autocast runs in bf16 anyway: hand it bf16 and halve the memory.
        device = x.device.type
        out_dtype = torch.get_autocast_dtype(device) if imag and torch.is_autocast_enabled(device) else dtype
        out = wave_modulation(
            ab,
            attention_mask,
            self.eps,
            imag=imag,
            hold_global=self.hold_global_semantics,
            segments=segments,
            first_only=first_only,
            out_dtype=out_dtype,
        )  # (B, T or 1, D or 2D)
        if imag:
            out = self.readout_proj(out)  # (B, T or 1, D)
        return out.to(dtype)


class FeedForward(nn.Module):
    """Position-wise feed-forward block D -> ffn_dim -> D (paper section 4a: "feed-forward layer")."""

    def __init__(self, config: WaveConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.ffn_dim)
        self.act = nn.GELU() if config.ffn_activation == "gelu" else nn.ReLU()
        self.fc2 = nn.Linear(config.ffn_dim, config.hidden_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))  # (B, T, D)


class WaveBlock(nn.Module):
    """One wave layer. With ``residual`` it is paper Eq. 8, W <- W + Dropout(g(f(W))), followed by a residual
    feed-forward; without, it is the section 4a pipeline wave -> feed-forward -> normalisation. The final LayerNorm
    is not in Eq. 8; it keeps a stack of blocks at a stable scale (as in post-LN Transformers)."""

    def __init__(self, config: WaveConfig):
        super().__init__()
        self.mixing = WaveMixing(config)
        self.ffn = FeedForward(config) if config.ffn_dim > 0 else None
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.norm == "layer" else None
        self.dropout = Dropout(config.dropout)
        self.residual = config.residual

    def forward(
        self, x: Tensor, attention_mask: Tensor | None, segments: Tensor | None = None, first_only: bool = False
    ) -> Tensor:
        """(B, T, D) -> (B, T, D); with ``first_only`` (B, 1, D), the output at position 0 alone: after the
        wave mixing every sublayer works position by position, so a [CLS] read-out needs nothing else."""
        h = self.dropout(self.mixing(x, attention_mask, segments, first_only))  # (B, T or 1, D)
        if first_only:
            x = x[:, :1]  # (B, 1, D)
        x = x + h if self.residual else h
        if self.ffn is not None:
            h = self.dropout(self.ffn(x))  # (B, T, D)
            x = x + h if self.residual else h
        if self.norm is not None:
            x = self.norm(x)
        return x
