"""Closed-form start for the wide path (``WaveConfig.bag_fit``): a logistic regression or a linear SVM on the
model's own n-gram features, fitted by scikit-learn before gradient training.

The wide path (``layers.NGramBag``) is a linear model; trained jointly with the wave path by Adam it can end far
from the linear model a convex solver finds on the same features (on SST-2's phrases the jointly trained
``wave-nb`` tests about a point below NBSVM on the same WordPiece n-grams). Fitting it first gives gradient
training the linear model's solution to start from, so what the wave path learns is what the linear model misses
(stagewise fitting, as in boosting; Wide & Deep, Cheng et al. 2016, trains the two halves jointly instead).

Features (``NGramBag.pair_values``) are shared by every class for ``"mean"`` and ``"tfidf"``: one multinomial
fit. For ``"nb"`` they differ per class (Naive Bayes log-count ratios, Wang & Manning 2012): one binary fit per
class, that class against the rest, as NBSVM; with two classes the two ratio vectors are each other's negatives, so
one fit serves both and its weights are split between the two columns (the logit difference is the fit's).

``loss="squared_hinge"`` fits scikit-learn's ``LinearSVC`` (liblinear, one class against the rest), the classifier
of the TF-IDF and NBSVM baselines: on these features it gives the most accurate fit on each data set measured
and fits several times faster than the logistic regression (docs/recipe.md). Its decision values are margins, not
log-odds, so with a validation split the chosen fit's logits are then temperature-scaled (one scalar fitted to the
validation split's log loss, Guo et al. 2017; the argmax, hence the accuracy, is unchanged) before gradient training
adds the wave path's logits to them under cross-entropy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse

from .configuration_wave import BAG_FIT_LOSSES
from .layers import NGramBag, padded_batches

logger = logging.getLogger(__name__)

LOSSES = BAG_FIT_LOSSES
C_GRID = (0.25, 1.0, 4.0, 16.0)  # inverse regularisation strengths tried on validation when bag_fit_c is None
SVM_C_GRID = (1 / 64, 1 / 16, 0.25, 1.0, 4.0)  # the same for loss="squared_hinge" (margins need less C)
MAX_ITER = 1000
ABSENT_CLASS_BIAS = -10.0  # the intercept of a class with no training text: never predicted


@dataclass(frozen=True)
class WideFit:
    """What ``fit_wide_path`` chose: ``c`` (inverse L2 strength), ``intercept`` (C,) for the head's bias,
    ``validation_accuracy`` of the linear model alone (``None`` without a validation split) and the
    ``temperature`` its logits were multiplied by (1.0 unless calibrated on validation)."""

    c: float
    intercept: np.ndarray
    validation_accuracy: float | None
    temperature: float = 1.0


@torch.no_grad()
def design_matrices(bag: NGramBag, texts: Iterable[list[int]], batch_size: int = 1024) -> list[sparse.csr_matrix]:
    """The texts' wide-path features as (N, buckets + 1) sparse matrices: one shared by every class, or one per
    class for ``"nb"`` weighting. ``texts`` (token-id lists) is consumed ``batch_size`` at a time."""
    rows_, cols_, vals_ = [], [], []
    start = 0
    for ids, mask in padded_batches(texts, batch_size):
        text, gram, value = bag.pair_values(ids, mask)  # (U,), (U,), (U, K)
        rows_.append(text.numpy() + start)
        cols_.append(gram.numpy())
        vals_.append(value.double().numpy())
        start += len(ids)
    shape = (start, bag.buckets + 1)
    if not rows_:
        return [sparse.csr_matrix(shape)]
    rows, cols, vals = np.concatenate(rows_), np.concatenate(cols_), np.concatenate(vals_)
    return [sparse.csr_matrix((vals[:, k], (rows, cols)), shape=shape) for k in range(vals.shape[1])]


def _fit_one(x: sparse.csr_matrix, y: np.ndarray, c: float, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (K, V) and intercepts (K,) of a logistic regression or a linear SVM (K = 1 for two classes)."""
    if loss == "squared_hinge":
        from sklearn.svm import LinearSVC

        model = LinearSVC(C=c, max_iter=MAX_ITER, random_state=0)
    else:
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=c, max_iter=MAX_ITER, tol=1e-4)
    model.fit(x, y)
    return model.coef_, model.intercept_


def _fit(
    xs: list[sparse.csr_matrix], y: np.ndarray, num_labels: int, c: float, loss: str
) -> tuple[np.ndarray, np.ndarray]:
    """(V, C) table weights and (C,) intercepts for the features ``xs`` (one shared matrix or one per class)."""
    weights = np.zeros((xs[0].shape[1], num_labels))
    intercept = np.full(num_labels, ABSENT_CLASS_BIAS)
    present = np.unique(y)
    if len(xs) == 1:  # shared features: one multinomial (or, for two classes, one binary) fit
        coef, b = _fit_one(xs[0], y, c, loss)
        if len(present) == 2:  # sklearn's one binary model: split its logit between the two classes
            coef, b = np.concatenate([-coef / 2, coef / 2]), np.concatenate([-b / 2, b / 2])
        weights[:, present], intercept[present] = coef.T, b
        return weights, intercept
    if num_labels == 2 and len(present) == 2:  # nb, two classes: x_0 = -x_1, so one fit on class 1's features
        coef, b = _fit_one(xs[1], y == 1, c, loss)
        weights[:, 0] = weights[:, 1] = coef[0] / 2
        intercept[:] = -b[0] / 2, b[0] / 2
        return weights, intercept
    for label in present:  # nb: that class against the rest, on that class's features (NBSVM)
        coef, b = _fit_one(xs[label], y == label, c, loss)
        weights[:, label], intercept[label] = coef[0], b[0]
    return weights, intercept


def _logits(xs: list[sparse.csr_matrix], weights: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    if len(xs) == 1:
        return xs[0] @ weights + intercept
    return np.stack([xs[k] @ weights[:, k] for k in range(len(xs))], 1) + intercept


def temperature_for(logits: np.ndarray, labels: np.ndarray) -> float:
    """The scalar T > 0 that minimises the mean cross-entropy of softmax(T * logits) for ``labels`` (temperature
    scaling, Guo et al. 2017), searched on log T in [-6, 6] (T from 0.0025 to 403)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def loss(log_t: float) -> float:
        return -float(log_softmax(np.exp(log_t) * logits, axis=1)[np.arange(len(labels)), labels].mean())

    return float(np.exp(minimize_scalar(loss, bounds=(-6.0, 6.0), method="bounded").x))


def fit_wide_path(
    bag: NGramBag,
    texts: Iterable[list[int]],
    labels: Sequence[int] | torch.Tensor,
    validation: tuple[Iterable[list[int]], Sequence[int]] | None = None,
    c: float | None = None,
    loss: str = "logistic",
) -> WideFit:
    """Fit ``bag``'s table in place by logistic regression (``loss="logistic"``) or a linear SVM
    (``"squared_hinge"``) on the training ``texts`` and class ids ``labels`` (its weighting statistics, idf or Naive
    Bayes ratios, must already be counted). ``c`` None: each of ``C_GRID`` (``SVM_C_GRID``) is fitted and the one
    with the best accuracy on ``validation`` (texts, labels) kept (the smallest on ties; 1.0 without validation).
    The SVM's margins are then temperature-scaled on ``validation`` (``temperature_for``). Returns the chosen C and
    the intercepts the caller puts in the head's bias."""
    if loss not in LOSSES:
        raise ValueError(f"bag_fit_loss={loss!r}; expected one of {LOSSES}")
    y = np.asarray(torch.as_tensor(labels, dtype=torch.long))
    num_labels = bag.weights.embedding_dim
    if y.ndim != 1 or (len(y) and (y.min() < 0 or y.max() >= num_labels)):
        raise ValueError(f"bag_fit needs one class id in [0, {num_labels}) per training text")
    if len(np.unique(y)) < 2:
        raise ValueError(f"bag_fit needs at least two classes in the training labels, found {np.unique(y).tolist()}")
    xs = design_matrices(bag, texts)
    seen = np.unique(np.concatenate([x.indices for x in xs]))  # fit only the columns training texts have
    xs = [x[:, seen] for x in xs]
    val = None
    if validation is not None:
        val_x = [x[:, seen] for x in design_matrices(bag, validation[0])]
        val = (val_x, np.asarray(torch.as_tensor(validation[1], dtype=torch.long)))
        if not len(val[1]):
            val = None
    grid = SVM_C_GRID if loss == "squared_hinge" else C_GRID
    grid = (c,) if c is not None else (grid if val is not None else (1.0,))
    best = None
    for candidate in grid:
        weights, intercept = _fit(xs, y, num_labels, candidate, loss)
        accuracy = None
        if val is not None:
            accuracy = float((_logits(val[0], weights, intercept).argmax(1) == val[1]).mean())
            logger.info("bag_fit: %s, C=%g, validation accuracy of the linear model %.4f", loss, candidate, accuracy)
        if best is None or (accuracy is not None and accuracy > best[0]):
            best = (accuracy, candidate, weights, intercept)
    accuracy, chosen, weights, intercept = best
    temperature = 1.0
    if val is not None and loss == "squared_hinge":  # margins to log-odds: one scalar, the argmax unchanged
        temperature = temperature_for(_logits(val[0], weights, intercept), val[1])
        weights, intercept = weights * temperature, intercept * temperature
    table = torch.zeros_like(bag.weights.weight)
    table[torch.as_tensor(seen)] = torch.as_tensor(weights / bag.scale, dtype=table.dtype)
    table[0] = 0.0  # "no n-gram here"
    with torch.no_grad():
        bag.weights.weight.copy_(table)
    return WideFit(c=chosen, intercept=intercept, validation_accuracy=accuracy, temperature=temperature)


__all__ = ["C_GRID", "LOSSES", "SVM_C_GRID", "WideFit", "design_matrices", "fit_wide_path", "temperature_for"]
