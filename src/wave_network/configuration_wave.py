"""Configuration of the Wave Network (arXiv 2411.02674) as a Hugging Face ``PretrainedConfig``."""

from __future__ import annotations

import warnings

from transformers import PretrainedConfig

from .problem_types import ProblemType

WAVE_MODES = ("interference", "modulation")
READOUTS = ("magnitude", "real", "real_imag")
POSITION_EMBEDDINGS = ("learned", "sinusoidal", "none")
POOLINGS = ("cls", "mean")
NORMS = ("layer", "none")
BAG_FIT_LOSSES = ("logistic", "squared_hinge")  # wide_fit: logistic regression, linear SVM


class WaveConfig(PretrainedConfig):
    """Every choice that defines a Wave Network.

    Args:
        vocab_size: number of token ids (30,522 for the bert-base-uncased WordPiece vocabulary).
        hidden_size: width D of token vectors (768 in the paper).
        num_layers: number of wave blocks. 1 is the paper's section 4a model; more stack blocks as in its Eq. 8.
        wave_mode: ``"interference"`` (Z + Z') or ``"modulation"`` (Z * Z'), paper section 3.2.
        readout: the paper's undefined ``g`` that turns the complex result back into real token vectors.
            ``"magnitude"`` |Z| (no parameters; for modulation it equals G G' for every token of a text),
            ``"real"`` Re Z (no parameters), ``"real_imag"`` [Re Z, Im Z] followed by a linear map 2D -> D.
        position_embedding: ``"learned"`` (a trained table), ``"sinusoidal"`` (fixed, Vaswani et al.) or ``"none"``
            (the model is then blind to word order).
        max_position_embeddings: longest input the position table covers.
        type_vocab_size: number of segment ids for sentence pairs; 0 disables segment embeddings.
        global_semantics: over which tokens G is taken. ``"text"``: the whole input, both sentences of a pair
            together (the paper's input-text level). ``"segment"``: each sentence of a pair separately, by the
            segment ids (the sentence-level global semantics of the paper's Figure 6(a)). Single texts: the same.
            Beyond the paper, order-aware: ``"local"``: each token's G is taken over its window of ``local_window``
            neighbours on each side, so its phase depends on word order; ``"text+local"``: the first projection's
            wave takes the text-level G and the second's the local G, and their modulation (or interference) mixes
            both. With [CLS] pooling, a single local layer's [CLS] sees only its window: use ``pooling="mean"``
            or more layers.
        local_window: tokens on each side of a token that its local G covers (``global_semantics`` ``"local"`` or
            ``"text+local"``).
        ngram_orders: orders n >= 2 of hashed token n-gram embeddings added to each token's embedding (fastText's
            bag of n-gram features, Joulin et al. 2017): position t also gets the embedding of the n-gram of token ids
            ending at t, hashed into ``ngram_buckets`` rows shared by all orders. Empty (the paper) disables them.
        ngram_buckets: rows of the hashed n-gram table (embedding parameters, like the token table).
        bag_ngram_orders: orders n >= 1 of a second, "wide" n-gram path (Wide & Deep, Cheng et al. 2016; fastText's
            linear classifier over a bag of n-grams, Joulin et al. 2017): every n-gram of these orders in the text is
            hashed into ``bag_buckets`` rows of ``num_labels`` weights, and their mean is added to the logits of the
            wave path. Order 1 is the tokens themselves. Empty (the paper) disables the path.
        bag_buckets: rows of the wide path's hashed table (embedding parameters).
        bag_weighting: how the wide path weighs the text's n-grams: ``"mean"`` (each occurrence equally, as
            fastText), ``"tfidf"`` (sublinear tf x smoothed idf, L2-normalised per text, as a TF-IDF model; the
            document frequencies are counted on the training texts before training starts) or ``"nb"`` (each
            distinct n-gram by its Naive Bayes log-count ratio for each class, L2-normalised per text and class, as
            NBSVM, Wang & Manning 2012; the ratios are counted on the labelled training texts before training
            starts; single-label classification only).
        bag_scale: multiplier of the wide path's logits. Its table starts at zero and trains with Adam, which moves
            a weight by about the learning rate per step whatever its gradient's scale, so this multiplier sets how
            fast the wide path learns relative to the wave path (a linear model over n-grams needs weights of order
            1 to 10, far more than the few hundred steps x 1e-3 that Adam gives an unscaled table).
        bag_fit: fit the wide path in closed form before gradient training: an L2-regularised logistic regression
            (scikit-learn) on the training texts' wide-path features, the same features the model computes; one
            multinomial fit for ``"mean"`` and ``"tfidf"``, one fit per class (that class against the rest) for
            ``"nb"``, as NBSVM. The table starts at the fitted weights (divided by ``bag_scale``) and the head's
            bias at the intercepts, so gradient training starts from the linear model instead of from zero.
            Single-label classification only.
        bag_fit_loss: ``"logistic"`` (logistic regression) or ``"squared_hinge"`` (a linear SVM, scikit-learn's
            ``LinearSVC`` as in the TF-IDF and NBSVM baselines; its margins are then temperature-scaled on the
            validation split, one scalar, so they enter cross-entropy training as log-odds).
        bag_fit_c: the fit's inverse regularisation strength C; ``None`` chooses it on the validation split by
            accuracy from (0.25, 1, 4, 16), or (1/64, 1/16, 1/4, 1, 4) for the SVM (1.0 without a validation split).
        bag_fit_weightings: weightings (of ``bag_weighting``'s choices) the fit tries, each with its C, keeping the
            one whose linear model is most accurate on the validation split (the earlier in the list on ties); the
            chosen one replaces ``bag_weighting`` and is saved with the model. Empty: ``bag_weighting`` alone;
            without a validation split: the first of them.
        bag_trainable: the wide path's table trains with the rest of the model; ``False`` keeps it where
            ``bag_fit`` put it, so gradient training fits only the wave path, to what the linear model misses.
        sparse_embeddings: the token and n-gram tables produce sparse gradients and train with lazy Adam (only the
            rows a batch touches move; see ``wave_network.training.optim``). A step then costs time in the batch's
            tokens instead of in the tables' rows, which is what makes large n-gram tables affordable on a CPU.
        token_embeddings_from: a BERT-family checkpoint (``minilm``, ``auto``, a hub name or a path; see
            ``wave_network.baselines.checkpoints``) whose input token embeddings initialise the token table when a
            model is created for training. Its width must equal ``hidden_size`` and its vocabulary ``vocab_size``.
            ``None`` (the paper): random initialisation. A model saved after training keeps its own table.
        ffn_dim: hidden width of the position-wise feed-forward block after the wave mixing; 0 removes the block.
        ffn_activation: activation inside the feed-forward block (``"gelu"`` or ``"relu"``).
        residual: add each sublayer's output to its input (paper Eq. 8). The section 4a single layer has none.
        norm: ``"layer"`` applies LayerNorm at the end of every block (paper section 4a: "normalization");
            ``"none"`` skips it.
        dropout: dropout on embeddings, on every sublayer output and before the classifier.
        pooling: ``"cls"`` reads the first token ([CLS]); ``"mean"`` averages the real (non-padding) tokens.
        num_labels: number of classes (1 for regression); 2 when not given and no ``id2label`` is.
        problem_type: ``"single_label_classification"``, ``"multi_label_classification"`` or ``"regression"``;
            chooses cross-entropy, binary cross-entropy with logits or mean squared error.
        wave_eps: relative threshold under which G^2 - w^2 counts as zero in Token2Wave (see ``wave_network.ops``).
        layer_norm_eps: epsilon of LayerNorm.
        initializer_range: standard deviation of the normal initialisation of linear layers.
        embedding_init_std: standard deviation of token/position/segment embedding initialisation. The paper says
            only "randomly initialised"; ``torch.nn.Embedding``'s default is 1.0, with which the paper's lr 1e-3
            moves the embeddings slowly (AG News sample: 82.2% test after 4 epochs, against 85.1% with 0.1).
        pad_token_id: id of the padding token (its embedding row starts at zero).
    """

    model_type = "wave"

    def __init__(
        self,
        vocab_size: int = 30522,
        hidden_size: int = 768,
        num_layers: int = 1,
        wave_mode: str = "modulation",
        readout: str = "real",
        position_embedding: str = "learned",
        max_position_embeddings: int = 512,
        type_vocab_size: int = 0,
        global_semantics: str = "text",
        local_window: int = 4,
        ngram_orders: list[int] | tuple[int, ...] = (),
        ngram_buckets: int = 0,
        bag_ngram_orders: list[int] | tuple[int, ...] = (),
        bag_buckets: int = 0,
        bag_weighting: str = "mean",
        bag_scale: float = 1.0,
        bag_fit: bool = False,
        bag_fit_loss: str = "logistic",
        bag_fit_c: float | None = None,
        bag_fit_weightings: list[str] | tuple[str, ...] = (),
        bag_trainable: bool = True,
        sparse_embeddings: bool = False,
        token_embeddings_from: str | None = None,
        ffn_dim: int = 768,
        ffn_activation: str = "gelu",
        residual: bool = False,
        norm: str = "layer",
        dropout: float = 0.1,
        pooling: str = "cls",
        num_labels: int | None = None,
        problem_type: str | None = None,
        wave_eps: float = 1e-6,
        layer_norm_eps: float = 1e-5,
        initializer_range: float = 0.02,
        embedding_init_std: float = 0.1,
        pad_token_id: int = 0,
        **kwargs,
    ):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.wave_mode = wave_mode
        self.readout = readout
        self.position_embedding = position_embedding
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.global_semantics = global_semantics
        self.local_window = local_window
        self.ngram_orders = [int(n) for n in ngram_orders]
        self.ngram_buckets = ngram_buckets
        self.bag_ngram_orders = [int(n) for n in bag_ngram_orders]
        self.bag_buckets = bag_buckets
        self.bag_weighting = bag_weighting
        self.bag_scale = bag_scale
        self.bag_fit = bool(bag_fit)
        self.bag_fit_loss = bag_fit_loss
        self.bag_fit_c = None if bag_fit_c is None else float(bag_fit_c)
        self.bag_fit_weightings = [str(w) for w in bag_fit_weightings]
        self.bag_trainable = bool(bag_trainable)
        self.sparse_embeddings = sparse_embeddings
        self.token_embeddings_from = token_embeddings_from
        self.ffn_dim = ffn_dim
        self.ffn_activation = ffn_activation
        self.residual = residual
        self.norm = norm
        self.dropout = dropout
        self.pooling = pooling
        self.wave_eps = wave_eps
        self.layer_norm_eps = layer_norm_eps
        self.initializer_range = initializer_range
        self.embedding_init_std = embedding_init_std
        if num_labels is not None:  # left unset when loading, so a saved id2label decides the label count
            kwargs["num_labels"] = num_labels
        super().__init__(pad_token_id=pad_token_id, problem_type=problem_type, **kwargs)
        self.validate()

    def _check_ngrams(self, orders_field: str, buckets_field: str, lowest: int) -> None:
        """Distinct orders >= ``lowest``, and a positive bucket count exactly when there are orders."""
        orders, buckets = getattr(self, orders_field), getattr(self, buckets_field)
        if any(n < lowest for n in orders) or len(set(orders)) != len(orders):
            raise ValueError(f"WaveConfig.{orders_field} must be distinct orders >= {lowest}, got {orders}")
        if bool(orders) != (buckets > 0) or buckets < 0:
            raise ValueError(
                f"WaveConfig.{orders_field}={orders} needs {buckets_field} > 0 and the reverse "
                f"(got {buckets_field}={buckets})"
            )

    def validate(self) -> None:
        """Reject invalid combinations with a message that names the field."""
        choices = {
            "wave_mode": WAVE_MODES,
            "readout": READOUTS,
            "position_embedding": POSITION_EMBEDDINGS,
            "pooling": POOLINGS,
            "norm": NORMS,
            "ffn_activation": ("gelu", "relu"),
            "global_semantics": ("text", "segment", "local", "text+local"),
            "bag_weighting": ("mean", "tfidf", "nb"),
            "bag_fit_loss": BAG_FIT_LOSSES,
        }
        for field, allowed in choices.items():
            if getattr(self, field) not in allowed:
                raise ValueError(f"WaveConfig.{field}={getattr(self, field)!r}; expected one of {allowed}")
        if self.problem_type is not None and self.problem_type not in ProblemType.classifier_values():
            raise ValueError(
                f"WaveConfig.problem_type={self.problem_type!r}; expected one of {ProblemType.classifier_values()}"
            )
        for field in ("vocab_size", "hidden_size", "num_layers", "max_position_embeddings", "num_labels"):
            if int(getattr(self, field)) < 1:
                raise ValueError(f"WaveConfig.{field} must be >= 1, got {getattr(self, field)}")
        if isinstance(self.local_window, bool) or not isinstance(self.local_window, int) or self.local_window < 1:
            raise ValueError(f"WaveConfig.local_window must be an integer >= 1, got {self.local_window!r}")
        if self.ffn_dim < 0 or self.type_vocab_size < 0:
            raise ValueError("WaveConfig.ffn_dim and WaveConfig.type_vocab_size must be >= 0")
        self._check_ngrams("ngram_orders", "ngram_buckets", lowest=2)
        self._check_ngrams("bag_ngram_orders", "bag_buckets", lowest=1)
        if self.bag_fit and not self.bag_ngram_orders:
            raise ValueError("WaveConfig.bag_fit=True fits the wide path: set bag_ngram_orders (for example [1, 2])")
        if self.bag_fit and self.problem_type not in (None, ProblemType.SINGLE_LABEL):
            raise ValueError(
                f"WaveConfig.bag_fit=True (preset wave-nb-fit, the default for --train-file) fits a logistic "
                f"regression to class labels; this data is {self.problem_type}. Use wave-wide (-m wave-wide) instead."
            )
        if self.bag_weighting == "nb" and self.problem_type not in (None, ProblemType.SINGLE_LABEL):
            raise ValueError(
                "WaveConfig.bag_weighting='nb' (preset wave-nb) needs class labels: it counts per-class ratios, for "
                f"single-label classification only; this data is {self.problem_type}. Use wave-wide "
                "(bag_weighting='tfidf') instead."
            )
        if not self.bag_scale > 0:
            raise ValueError(f"WaveConfig.bag_scale must be > 0, got {self.bag_scale}")
        if not self.bag_trainable and not self.bag_fit:
            raise ValueError("WaveConfig.bag_trainable=False freezes the wide path at zero unless bag_fit=True fits it")
        for weighting in self.bag_fit_weightings:
            if weighting not in choices["bag_weighting"]:
                raise ValueError(
                    f"WaveConfig.bag_fit_weightings has {weighting!r}; expected each of {choices['bag_weighting']}"
                )
        if self.bag_fit_weightings and not self.bag_fit:
            raise ValueError("WaveConfig.bag_fit_weightings are tried by the closed-form fit: set bag_fit=True")
        if self.bag_fit_c is not None and not self.bag_fit_c > 0:
            raise ValueError(f"WaveConfig.bag_fit_c must be > 0 (or null: chosen on validation), got {self.bag_fit_c}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"WaveConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.problem_type == ProblemType.REGRESSION and self.num_labels != 1:
            raise ValueError("WaveConfig.problem_type='regression' needs num_labels=1")
        if not 0.0 <= self.wave_eps < 1.0:
            raise ValueError(f"WaveConfig.wave_eps must be in [0, 1), got {self.wave_eps}")
        if self.wave_mode == "interference" and self.readout == "real":
            # Re(Z + Z') = w + w': the imaginary parts, the only place G enters, are dropped. Allowed as an ablation.
            warnings.warn(
                "WaveConfig(wave_mode='interference', readout='real') reads back Re(Z + Z') = w + w', which never "
                "uses the global semantics: tokens do not mix. Use readout='magnitude' or 'real_imag' instead.",
                stacklevel=3,
            )
