"""Baselines registered beside the Wave presets (``wave_network.list_models()``): BERT fine-tuning, the paper's
single Transformer layer on pre-trained BERT embeddings, FNet, fastText, TF-IDF + a linear model, NBSVM and the
majority class. Each goes through the same data, splits, training loop, metrics and run records as the Wave models.

``BASELINES`` maps a model name to ``(builder, description, training defaults)``, ``BASELINE_CONFIGS`` and
``BASELINE_MODELS`` to the config class and the model class its builder uses; the registry reads them.
"""

from __future__ import annotations

from transformers import BertConfig

from .checkpoints import PACKAGED_DISCLOSURE, CheckpointNotFoundError, resolve_checkpoint
from .classic import (
    FastTextClassifier,
    FastTextConfig,
    FittedClassifier,
    MajorityClassifier,
    MajorityConfig,
    NbsvmClassifier,
    NbsvmConfig,
    TfidfClassifier,
    TfidfConfig,
    build_fasttext,
    build_majority,
    build_nbsvm,
    build_tfidf,
)
from .fnet import FixedLengthFNetConfig, FixedLengthFNetForSequenceClassification, build_fnet
from .pretrained import build_bert, build_transformer_1layer

# Recipes: the paper's for BERT (lr 2e-5, batch 32, 4 epochs) and, where the paper is silent, the Wave recipe
# (lr 1e-3, batch 64, 4 epochs) for the models trained from scratch or on frozen-in-spirit embeddings. The classics
# fit in one pass without an optimiser, so they have no learning rate; their batch size only sets how the training
# data is read.
_FIT_ONCE = {"epochs": 1, "batch_size": 256}
BASELINES = {
    "bert": (
        build_bert,
        "BERT-family encoder fine-tuned end to end (bert-base-uncased online, else the packaged all-MiniLM-L6-v2)",
        {"learning_rate": 2e-5, "epochs": 4, "batch_size": 32},
    ),
    "transformer-1layer": (
        build_transformer_1layer,
        "Paper Table 1: one random Transformer encoder layer on a BERT checkpoint's pre-trained embeddings",
        {"learning_rate": 1e-3, "epochs": 4, "batch_size": 64},
    ),
    "fnet": (
        build_fnet,
        "FNet (Fourier token mixing), 6 layers x 256 wide, from scratch, inputs padded to max_length",
        {"learning_rate": 5e-4, "epochs": 4, "batch_size": 64},
    ),
    "fasttext": (build_fasttext, "fastText with word bigrams (Joulin et al. 2017 recipe)", _FIT_ONCE),
    "tfidf": (build_tfidf, "TF-IDF uni+bigrams + LinearSVC (scikit-learn)", _FIT_ONCE),
    "nbsvm": (
        build_nbsvm,
        "NBSVM: binary uni+bigrams x Naive Bayes log-count ratios + LinearSVC (Wang & Manning 2012)",
        _FIT_ONCE,
    ),
    "majority": (build_majority, "Majority class (mean target for regression)", _FIT_ONCE),
}

# The config class each builder hands its other keyword arguments (``--set``) to: their fields are checked before
# any work (``registry.check_model_overrides``).
BASELINE_CONFIGS = {
    "bert": BertConfig,
    "transformer-1layer": BertConfig,
    "fnet": FixedLengthFNetConfig,
    "fasttext": FastTextConfig,
    "tfidf": TfidfConfig,
    "nbsvm": NbsvmConfig,
    "majority": MajorityConfig,
}

# The class each builder returns, where it is always one: what the registry reads a model's capabilities from
# before building it (``registry.fits_without_gradients``). BERT's class depends on the checkpoint.
BASELINE_MODELS = {
    "fnet": FixedLengthFNetForSequenceClassification,
    "fasttext": FastTextClassifier,
    "tfidf": TfidfClassifier,
    "nbsvm": NbsvmClassifier,
    "majority": MajorityClassifier,
}

__all__ = [
    "BASELINES",
    "BASELINE_CONFIGS",
    "BASELINE_MODELS",
    "PACKAGED_DISCLOSURE",
    "CheckpointNotFoundError",
    "FastTextClassifier",
    "FastTextConfig",
    "FittedClassifier",
    "FixedLengthFNetConfig",
    "FixedLengthFNetForSequenceClassification",
    "MajorityClassifier",
    "MajorityConfig",
    "NbsvmClassifier",
    "NbsvmConfig",
    "TfidfClassifier",
    "TfidfConfig",
    "build_bert",
    "build_fasttext",
    "build_fnet",
    "build_majority",
    "build_nbsvm",
    "build_tfidf",
    "build_transformer_1layer",
    "resolve_checkpoint",
]
