"""The cheap classics a user would reach for first: the majority class, TF-IDF n-grams + a linear model
(scikit-learn), NBSVM (Wang & Manning 2012, "Baselines and Bigrams": n-grams scaled by Naive Bayes log-count
ratios + a linear SVM) and fastText with word bigrams (Joulin et al. 2017, arXiv 1607.01759, the `fasttext`
package).

They learn without gradients (``capabilities.FitsWithoutGradients``): ``train`` calls ``fit_batches`` with every
training batch once instead of running the gradient loop. Every model sees exactly what the neural models see: the
same WordPiece token ids, truncated at the same ``max_length``; a "word" is a WordPiece token (written as its id)
and a bigram a pair of neighbouring tokens. They are ``transformers`` ``PreTrainedModel``s so the run directory,
``evaluate`` and ``predict`` treat them like any other model; the fitted estimator is saved beside ``config.json``
(a pickle for scikit-learn, fastText's own binary format), so load only run directories you trust.
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import AutoConfig, AutoModelForSequenceClassification, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from ..capabilities import CountsFittedParameters, FitsWithoutGradients
from ..params import ParameterCount
from ..problem_types import ProblemType

ESTIMATOR_FILE = "estimator.bin"


def documents(input_ids: torch.Tensor, attention_mask: torch.Tensor | None) -> list[str]:
    """Each row's real tokens as a space-separated string of ids (what the vectoriser and fastText read)."""
    ids = input_ids.cpu().numpy()
    mask = np.ones_like(ids, dtype=bool) if attention_mask is None else attention_mask.cpu().numpy().astype(bool)
    return [" ".join(map(str, row[keep])) for row, keep in zip(ids, mask, strict=True)]


class FittedClassifier(PreTrainedModel, FitsWithoutGradients, CountsFittedParameters):
    """Base of the baselines fitted by a library call: subclasses implement ``fit_documents``, ``scores``,
    ``estimator_bytes`` / ``load_estimator_bytes`` and ``fitted_parameter_count``. It fits without gradients and
    counts its fitted parameters itself (the two ``capabilities`` protocols it inherits).

    The fitted estimator travels in the module's extra state, so ``state_dict`` / ``load_state_dict`` (used to
    reload the best checkpoint) copy it, and in ``ESTIMATOR_FILE`` beside ``config.json`` on disk.
    """

    base_model_prefix = "classic"
    supports_gradient_checkpointing = False
    problem_types: tuple[ProblemType, ...] = (ProblemType.SINGLE_LABEL,)  # what ``fit_batches`` accepts

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        self.fitted = False
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        pass

    # -- what subclasses implement -------------------------------------------------------------------------
    def fit_documents(self, docs: list[str], labels: np.ndarray) -> None:
        raise NotImplementedError

    def scores(self, docs: list[str]) -> np.ndarray:
        """Logits (B, C) for single-label classification, predictions (B, 1) for regression."""
        raise NotImplementedError

    def estimator_bytes(self) -> bytes:
        raise NotImplementedError

    def load_estimator_bytes(self, blob: bytes) -> None:
        raise NotImplementedError

    def fitted_parameter_count(self) -> ParameterCount:
        raise NotImplementedError

    # -- the shared machinery ------------------------------------------------------------------------------
    def fit_batches(self, batches: list[dict[str, torch.Tensor]]) -> None:
        """Fit on every training batch (what ``fit_without_gradients`` calls)."""
        docs = [d for b in batches for d in documents(b["input_ids"], b.get("attention_mask"))]
        labels = torch.cat([b["labels"] for b in batches]).cpu().numpy()
        if (self.config.problem_type or ProblemType.SINGLE_LABEL) not in self.problem_types:
            raise ValueError(f"{type(self).__name__} does not support problem_type={self.config.problem_type!r}")
        self.fit_documents(docs, labels)
        self.fitted = True

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: train it (fit_batches) or load a fitted one")
        logits = torch.as_tensor(self.scores(documents(input_ids, attention_mask)), dtype=torch.float32)
        logits = logits.to(input_ids.device)  # (B, C)
        loss = None
        if labels is not None:
            if self.config.problem_type == ProblemType.REGRESSION:
                loss = F.mse_loss(logits.squeeze(-1), labels.float())
            else:
                loss = F.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def get_extra_state(self) -> Any:
        return self.estimator_bytes() if self.fitted else b""

    def set_extra_state(self, state: Any) -> None:
        if state:
            self.load_estimator_bytes(bytes(state))
            self.fitted = True

    def save_pretrained(self, save_directory: str | os.PathLike, **kwargs: Any) -> None:
        os.makedirs(save_directory, exist_ok=True)
        self.config.save_pretrained(save_directory)
        with open(os.path.join(save_directory, ESTIMATOR_FILE), "wb") as handle:
            handle.write(self.get_extra_state())

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        config = kwargs.get("config") or cls.config_class.from_pretrained(pretrained_model_name_or_path)
        model = cls(config)
        path = os.path.join(pretrained_model_name_or_path, ESTIMATOR_FILE)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{path}: the fitted estimator of this {cls.__name__} is missing")
        with open(path, "rb") as handle:
            model.set_extra_state(handle.read())
        return model.eval()


class MajorityConfig(PretrainedConfig):
    """The majority-class baseline (the mean target for regression). No hyperparameters."""

    model_type = "wave_network_majority"


class MajorityClassifier(FittedClassifier):
    """Predicts the most frequent training label for every text (logits = log class frequencies), or the mean
    training target for regression."""

    config_class = MajorityConfig
    problem_types = (ProblemType.SINGLE_LABEL, ProblemType.REGRESSION)

    def __init__(self, config: MajorityConfig):
        super().__init__(config)
        self.values = np.zeros(config.num_labels)

    def fit_documents(self, docs: list[str], labels: np.ndarray) -> None:
        if self.config.problem_type == ProblemType.REGRESSION:
            self.values = np.array([float(np.mean(labels))])
        else:
            counts = np.bincount(labels.astype(np.int64), minlength=self.config.num_labels).astype(np.float64)
            # a class absent from training gets a tiny share so its logit stays finite
            self.values = np.log(np.maximum(counts, 0.5) / counts.sum())

    def scores(self, docs: list[str]) -> np.ndarray:
        return np.tile(self.values, (len(docs), 1))

    def estimator_bytes(self) -> bytes:
        buffer = io.BytesIO()
        np.save(buffer, self.values)
        return buffer.getvalue()

    def load_estimator_bytes(self, blob: bytes) -> None:
        self.values = np.load(io.BytesIO(blob))

    def fitted_parameter_count(self) -> ParameterCount:
        n = int(self.values.size)
        return ParameterCount(total=n, embedding=0, non_embedding=n, trainable=n)


class TfidfConfig(PretrainedConfig):
    """TF-IDF n-gram features + a linear classifier.

    Args:
        ngram_max: n-grams from 1 to this many tokens (2: unigrams and bigrams).
        min_df: drop n-grams seen in fewer training texts than this.
        sublinear_tf: 1 + log(tf) instead of raw counts.
        classifier: ``"linear_svc"`` (LinearSVC, the measurement in REFERENCE.md) or ``"logistic_regression"``.
        C: inverse regularisation strength of the classifier.
        max_iter: iteration cap of the solver.
    """

    model_type = "wave_network_tfidf"

    def __init__(
        self,
        ngram_max: int = 2,
        min_df: int = 1,
        sublinear_tf: bool = True,
        classifier: str = "linear_svc",
        C: float = 1.0,
        max_iter: int = 5000,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if classifier not in ("linear_svc", "logistic_regression"):
            raise ValueError(f"TfidfConfig.classifier={classifier!r}; expected 'linear_svc' or 'logistic_regression'")
        if ngram_max < 1 or min_df < 1 or C <= 0:
            raise ValueError("TfidfConfig: ngram_max and min_df must be >= 1 and C > 0")
        self.ngram_max, self.min_df, self.sublinear_tf = ngram_max, min_df, sublinear_tf
        self.classifier, self.C, self.max_iter = classifier, C, max_iter


class TfidfClassifier(FittedClassifier):
    """scikit-learn ``TfidfVectorizer`` (uni- and bigrams of WordPiece tokens) followed by ``LinearSVC`` (logits =
    decision values) or ``LogisticRegression`` (logits = log-probabilities)."""

    config_class = TfidfConfig

    def __init__(self, config: TfidfConfig):
        super().__init__(config)
        self.pipeline = None

    def fit_documents(self, docs: list[str], labels: np.ndarray) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC

        c = self.config
        vectorizer = TfidfVectorizer(
            token_pattern=r"\S+",
            lowercase=False,
            ngram_range=(1, c.ngram_max),
            min_df=c.min_df,
            sublinear_tf=c.sublinear_tf,
            dtype=np.float32,
        )
        if c.classifier == "linear_svc":
            model = LinearSVC(C=c.C, max_iter=c.max_iter, random_state=0)
        else:
            model = LogisticRegression(C=c.C, max_iter=c.max_iter)
        self.pipeline = make_pipeline(vectorizer, model).fit(docs, labels.astype(np.int64))

    def scores(self, docs: list[str]) -> np.ndarray:
        model = self.pipeline[-1]
        if self.config.classifier == "logistic_regression":
            values = self.pipeline.predict_log_proba(docs)
        else:
            values = self.pipeline.decision_function(docs)
            if values.ndim == 1:  # binary: one margin, for the second class
                values = np.stack([np.zeros_like(values), values], axis=1)
        return self._all_classes(values, model.classes_)

    def _all_classes(self, values: np.ndarray, classes: np.ndarray) -> np.ndarray:
        """Columns for every label of the config, even those absent from training (a very low score)."""
        full = np.full((values.shape[0], self.config.num_labels), -1e4, dtype=np.float64)
        full[:, classes] = values
        return full

    def estimator_bytes(self) -> bytes:
        return pickle.dumps(self.pipeline)

    def load_estimator_bytes(self, blob: bytes) -> None:
        self.pipeline = pickle.loads(blob)  # noqa: S301  (our own run directory)

    def fitted_parameter_count(self) -> ParameterCount:
        model = self.pipeline[-1]
        n = int(model.coef_.size + np.size(model.intercept_))
        return ParameterCount(total=n, embedding=0, non_embedding=n, trainable=n)


class NbsvmConfig(PretrainedConfig):
    """NBSVM: binarised n-gram counts scaled by each class's Naive Bayes log-count ratio, then a linear SVM per
    class (that class against the rest).

    Args:
        ngram_max: n-grams from 1 to this many tokens (2: unigrams and bigrams).
        alpha: the counts' smoothing (Wang & Manning's alpha).
        normalize: L2-normalise each text's scaled features (what the Wave model's ``bag_weighting="nb"`` does);
            False keeps the paper's unnormalised features.
        C: inverse regularisation strength of each LinearSVC.
        max_iter: iteration cap of the solver.
    """

    model_type = "wave_network_nbsvm"

    def __init__(
        self,
        ngram_max: int = 2,
        alpha: float = 1.0,
        normalize: bool = True,
        C: float = 1.0,
        max_iter: int = 5000,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if ngram_max < 1 or alpha <= 0 or C <= 0:
            raise ValueError("NbsvmConfig: ngram_max must be >= 1, alpha > 0 and C > 0")
        self.ngram_max, self.alpha, self.normalize, self.C, self.max_iter = ngram_max, alpha, normalize, C, max_iter


class NbsvmClassifier(FittedClassifier):
    """scikit-learn ``CountVectorizer`` (binary uni- and bigrams of WordPiece tokens), per class r = log((p / |p|_1)
    / (q / |q|_1)) with p, q = alpha + the counts over that class's texts and over the others', features x * r
    (L2-normalised unless ``normalize=False``) and one ``LinearSVC`` per class; logits are the decision values. A
    two-class problem fits the one SVM of the second class (the first's score is 0), as the paper's binary NBSVM.
    Wang & Manning also interpolate the SVM's weights with their mean (beta); that step is left out."""

    config_class = NbsvmConfig

    def __init__(self, config: NbsvmConfig):
        super().__init__(config)
        self.vectorizer, self.classes, self.ratios, self.svms = None, None, None, None

    def _features(self, counts, ratio: np.ndarray):
        from sklearn.preprocessing import normalize

        scaled = counts.multiply(ratio[None, :]).tocsr()
        return normalize(scaled) if self.config.normalize else scaled

    def fit_documents(self, docs: list[str], labels: np.ndarray) -> None:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.svm import LinearSVC

        c = self.config
        labels = labels.astype(np.int64)
        self.vectorizer = CountVectorizer(
            token_pattern=r"\S+", lowercase=False, ngram_range=(1, c.ngram_max), binary=True, dtype=np.float32
        )
        counts = self.vectorizer.fit_transform(docs)
        present = np.unique(labels)
        if len(present) < 2:
            raise ValueError(f"NBSVM needs at least two classes in the training labels, found {present.tolist()}")
        self.classes = present[1:] if len(present) == 2 else present
        self.ratios, self.svms = [], []
        for label in self.classes:
            mine = labels == label
            p = c.alpha + np.asarray(counts[mine].sum(0)).ravel()
            q = c.alpha + np.asarray(counts[~mine].sum(0)).ravel()
            ratio = (np.log(p / p.sum()) - np.log(q / q.sum())).astype(np.float32)
            svm = LinearSVC(C=c.C, max_iter=c.max_iter, random_state=0).fit(self._features(counts, ratio), mine)
            self.ratios.append(ratio)
            self.svms.append(svm)

    def scores(self, docs: list[str]) -> np.ndarray:
        counts = self.vectorizer.transform(docs)
        full = np.full((len(docs), self.config.num_labels), -1e4, dtype=np.float64)
        if len(self.classes) == 1:  # binary: the first class present scores 0
            others = [k for k in range(self.config.num_labels) if k != self.classes[0]]
            full[:, others[0]] = 0.0
        for label, ratio, svm in zip(self.classes, self.ratios, self.svms, strict=True):
            full[:, label] = svm.decision_function(self._features(counts, ratio))
        return full

    def estimator_bytes(self) -> bytes:
        return pickle.dumps((self.vectorizer, self.classes, self.ratios, self.svms))

    def load_estimator_bytes(self, blob: bytes) -> None:
        self.vectorizer, self.classes, self.ratios, self.svms = pickle.loads(blob)  # noqa: S301  (our run directory)

    def fitted_parameter_count(self) -> ParameterCount:
        n = int(sum(svm.coef_.size + np.size(svm.intercept_) for svm in self.svms))
        return ParameterCount(total=n, embedding=0, non_embedding=n, trainable=n)


class FastTextConfig(PretrainedConfig):
    """fastText supervised training (``fasttext.train_supervised``); defaults are the bigram recipe of Joulin et
    al. (2017): 10 hidden units, 5 epochs, word bigrams, learning rate 0.25 (their grid {0.05, 0.1, 0.25, 0.5}).

    Args:
        dim: embedding size ("hidden units"). epoch: passes over the data. lr: learning rate.
        word_ngrams: longest word n-gram. bucket: hash buckets of the n-gram embeddings (fastText's default 2M;
            the paper's 10M only matters on millions of texts). min_count: minimal token count.
        thread: fastText threads; 1 makes runs repeatable. seed: fastText's seed.
    """

    model_type = "wave_network_fasttext"

    def __init__(
        self,
        dim: int = 10,
        epoch: int = 5,
        lr: float = 0.25,
        word_ngrams: int = 2,
        bucket: int = 2_000_000,
        min_count: int = 1,
        thread: int = 1,
        seed: int = 0,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.dim, self.epoch, self.lr, self.word_ngrams = dim, epoch, lr, word_ngrams
        self.bucket, self.min_count, self.thread, self.seed = bucket, min_count, thread, seed


class FastTextClassifier(FittedClassifier):
    """fastText's supervised classifier; logits are the log of its softmax probabilities."""

    config_class = FastTextConfig

    def __init__(self, config: FastTextConfig):
        super().__init__(config)
        self.model = None

    @staticmethod
    def _fasttext():
        try:
            import fasttext
        except ImportError as exc:
            raise ImportError(
                "the fasttext baseline needs the fastText package: pip install 'wave-network[fasttext]'"
            ) from exc
        return fasttext

    def fit_documents(self, docs: list[str], labels: np.ndarray) -> None:
        fasttext = self._fasttext()
        c = self.config
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "train.txt")
            with open(path, "w", encoding="utf-8") as handle:
                for doc, label in zip(docs, labels, strict=True):
                    handle.write(f"__label__{int(label)} {doc}\n")
            self.model = fasttext.train_supervised(
                input=path,
                dim=c.dim,
                epoch=c.epoch,
                lr=c.lr,
                wordNgrams=c.word_ngrams,
                bucket=c.bucket,
                minCount=c.min_count,
                thread=c.thread,
                seed=c.seed,
                verbose=0,
                loss="softmax",
            )

    def scores(self, docs: list[str]) -> np.ndarray:
        labels, probs = self.model.predict(docs, k=-1)
        out = np.full((len(docs), self.config.num_labels), 1e-12)
        for row, (names, values) in enumerate(zip(labels, probs, strict=True)):
            for name, value in zip(names, values, strict=True):
                out[row, int(name.removeprefix("__label__"))] = max(float(value), 1e-12)
        return np.log(out)

    def estimator_bytes(self) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.bin")
            self.model.save_model(path)
            with open(path, "rb") as handle:
                return handle.read()

    def load_estimator_bytes(self, blob: bytes) -> None:
        fasttext = self._fasttext()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.bin")
            with open(path, "wb") as handle:
                handle.write(blob)
            self.model = fasttext.load_model(path)

    def fitted_parameter_count(self) -> ParameterCount:
        words, _ = self.model.get_words(include_freq=True)
        embedding = (len(words) + self.config.bucket) * self.config.dim
        head = self.config.dim * len(self.model.labels)
        return ParameterCount(
            total=embedding + head, embedding=embedding, non_embedding=head, trainable=embedding + head
        )


for _config, _model in (
    (MajorityConfig, MajorityClassifier),
    (TfidfConfig, TfidfClassifier),
    (NbsvmConfig, NbsvmClassifier),
    (FastTextConfig, FastTextClassifier),
):
    AutoConfig.register(_config.model_type, _config)
    AutoModelForSequenceClassification.register(_config, _model)


def _builder(model_cls: type[FittedClassifier], config_cls: type[PretrainedConfig]):
    def build(num_labels: int, vocab_size: int, max_length: int | None = None, **overrides: Any) -> FittedClassifier:
        return model_cls(config_cls(num_labels=num_labels, **overrides))

    build.__doc__ = f"A fresh, unfitted {model_cls.__name__}; ``overrides`` are {config_cls.__name__} fields."
    return build


build_majority = _builder(MajorityClassifier, MajorityConfig)
build_tfidf = _builder(TfidfClassifier, TfidfConfig)
build_nbsvm = _builder(NbsvmClassifier, NbsvmConfig)
build_fasttext = _builder(FastTextClassifier, FastTextConfig)
