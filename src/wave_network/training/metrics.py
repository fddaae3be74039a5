"""Evaluation metrics (scikit-learn, SciPy) under one naming scheme: ``<split>_<metric>``, e.g.
``val_accuracy``, ``test_f1_macro``. Every function takes plain arrays, so the numbers can be checked by
hand."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    matthews_corrcoef,
    mean_squared_error,
    precision_recall_fscore_support,
)

from ..problem_types import ProblemType


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], num_labels: int) -> dict:
    """Accuracy, macro- and weighted-averaged precision / recall / F1, Matthews correlation (``mcc``, GLUE's CoLA
    metric) and the confusion matrix (rows: true labels, columns: predictions, over all ``num_labels`` classes). A
    class never predicted has precision 0. Two classes add ``f1``, the F1 of class 1 (GLUE's F1 for MRPC and
    QQP, whose class 1 is the paraphrase / duplicate)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(num_labels))
    out = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average=average, zero_division=0)
        out |= {f"precision_{average}": float(p), f"recall_{average}": float(r), f"f1_{average}": float(f)}
    # MCC is 0 (not undefined) when one side is constant, as scikit-learn and GLUE's scorer report it.
    out["mcc"] = float(matthews_corrcoef(y_true, y_pred))
    if num_labels == 2:
        out["f1"] = float(f1_score(y_true, y_pred, pos_label=1, zero_division=0))
    out["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=labels).tolist()
    return out


def multilabel_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Exact-match (subset) accuracy and macro / weighted / micro precision, recall and F1 over binary
    indicator matrices (N, C)."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    out = {"accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted", "micro"):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
        out |= {f"precision_{average}": float(p), f"recall_{average}": float(r), f"f1_{average}": float(f)}
    return out


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict:
    """Mean squared error, Pearson and Spearman correlation. A correlation with a constant input is undefined
    and reported as NaN (written as ``null`` in JSON)."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    out = {"mse": float(mean_squared_error(y_true, y_pred))}
    if len(y_true) < 2 or np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        return out | {"pearson": float("nan"), "spearman": float("nan")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["pearson"] = float(stats.pearsonr(y_true, y_pred)[0])
        out["spearman"] = float(stats.spearmanr(y_true, y_pred)[0])
    return out


def loss_from_logits(logits: torch.Tensor, labels: torch.Tensor, problem_type: str) -> float:
    """Mean loss as Hugging Face sequence classifiers define it: cross-entropy for single-label, binary
    cross-entropy with logits for multi-label, squared error for regression; in float64, so it is the same
    however the examples were batched."""
    logits = torch.as_tensor(logits).double()
    labels = torch.as_tensor(labels)
    if problem_type == ProblemType.REGRESSION:
        return float(F.mse_loss(logits.reshape(-1), labels.double().reshape(-1)))
    if problem_type == ProblemType.MULTI_LABEL:
        return float(F.binary_cross_entropy_with_logits(logits, labels.double()))
    return float(F.cross_entropy(logits, labels.long()))


def predictions_from_logits(logits: np.ndarray, problem_type: str) -> np.ndarray:
    """Class ids (argmax), binary indicators (sigmoid > 0.5, i.e. logit > 0) or regression values."""
    logits = np.asarray(logits)
    if problem_type == ProblemType.REGRESSION:
        return logits.reshape(len(logits), -1)[:, 0]
    if problem_type == ProblemType.MULTI_LABEL:
        return (logits > 0).astype(int)
    return logits.argmax(axis=-1)


def compute_metrics(
    logits: np.ndarray,
    labels: np.ndarray,
    problem_type: str,
    *,
    prefix: str,
    loss: float | None = None,
) -> dict:
    """All metrics for one split, named ``f"{prefix}_{metric}"`` (``val_accuracy``, ``test_confusion_matrix``,
    ``test_mse``, ...). ``loss`` is the mean loss the model reported over the split."""
    if problem_type not in ProblemType.values():
        raise ValueError(f"problem_type={problem_type!r}; expected one of {ProblemType.values()}")
    preds = predictions_from_logits(logits, problem_type)
    if problem_type == ProblemType.REGRESSION:
        values = regression_metrics(np.asarray(labels, dtype=float).reshape(-1), preds)
    elif problem_type == ProblemType.MULTI_LABEL:
        values = multilabel_metrics(labels, preds)
    else:
        values = classification_metrics(labels, preds, num_labels=np.asarray(logits).shape[-1])
    if loss is not None:
        values = {"loss": float(loss)} | values
    return {f"{prefix}_{name}": value for name, value in values.items()}


def masked_lm_metrics(loss_sum: float, correct: int, count: int, *, prefix: str) -> dict:
    """Metrics of the masked-token objective over a split from the summed cross-entropy of its ``count`` masked
    tokens and how many of them the model ranked first: ``loss`` (mean, nats), ``perplexity`` (exp of it) and
    ``accuracy`` (of the masked tokens)."""
    if count == 0:
        raise ValueError(f"the {prefix} split has no maskable token")
    loss = loss_sum / count
    values = {"loss": loss, "perplexity": math.exp(min(loss, 700.0)), "accuracy": correct / count}
    return {f"{prefix}_{name}": float(value) for name, value in values.items()}


def selection_metric(problem_type: str) -> tuple[str, str]:
    """The validation metric that selects the best checkpoint and drives early stopping, and its direction:
    accuracy (higher is better) for classification, loss (lower is better) for regression and pre-training."""
    if problem_type in (ProblemType.REGRESSION, ProblemType.MASKED_LM):
        return "val_loss", "min"
    return "val_accuracy", "max"
