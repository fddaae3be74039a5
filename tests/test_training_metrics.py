"""Metrics against values computed by hand."""

import json
import math

import numpy as np
import pytest

from wave_network.training.metrics import compute_metrics, regression_metrics, selection_metric
from wave_network.training.rundir import to_jsonable


def one_hot_logits(preds, num_labels):
    logits = np.full((len(preds), num_labels), -1.0)
    logits[np.arange(len(preds)), preds] = 1.0
    return logits


def test_classification_metrics_match_hand_computed_values():
    # class 0: TP 2, FP 1, FN 1 (support 3); class 1: TP 2, FP 1, FN 0 (support 2); class 2: TP 0, FP 0, FN 1.
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 1, 0])
    m = compute_metrics(one_hot_logits(y_pred, 3), y_true, "single_label_classification", prefix="test", loss=0.25)
    expected = {
        "test_loss": 0.25,
        "test_accuracy": 4 / 6,
        "test_precision_macro": (2 / 3 + 2 / 3 + 0) / 3,
        "test_recall_macro": (2 / 3 + 1 + 0) / 3,
        "test_f1_macro": (2 / 3 + 0.8 + 0) / 3,
        "test_precision_weighted": (3 * 2 / 3 + 2 * 2 / 3) / 6,
        "test_recall_weighted": 4 / 6,
        "test_f1_weighted": (3 * 2 / 3 + 2 * 0.8) / 6,
    }
    for name, value in expected.items():
        assert m[name] == pytest.approx(value, abs=1e-12), name
    assert m["test_confusion_matrix"] == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]


def test_binary_metrics_have_glue_mcc_and_positive_class_f1():
    # TP 2, FP 1, FN 1, TN 2: MCC = (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 3 / 9
    y_true = np.array([1, 1, 1, 0, 0, 0])
    y_pred = np.array([1, 1, 0, 1, 0, 0])
    m = compute_metrics(one_hot_logits(y_pred, 2), y_true, "single_label_classification", prefix="test")
    assert m["test_mcc"] == pytest.approx(3 / 9, abs=1e-12)
    assert m["test_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1), abs=1e-12)
    # a constant prediction (the majority class) has MCC 0, as GLUE reports it for CoLA
    constant = compute_metrics(one_hot_logits([1] * 6, 2), y_true, "single_label_classification", prefix="test")
    assert constant["test_mcc"] == 0.0


def test_confusion_matrix_covers_classes_never_seen():
    m = compute_metrics(one_hot_logits([0, 0], 4), np.array([0, 1]), "single_label_classification", prefix="val")
    assert m["val_confusion_matrix"] == [[1, 0, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert m["val_accuracy"] == 0.5


def test_regression_metrics_match_hand_computed_values():
    # deviations (-1.5, -0.5, 0.5, 1.5) and (-1.5, 0.5, -0.5, 1.5): covariance 4 / variance 5 -> r = 0.8; the
    # values are their own ranks, so Spearman equals Pearson.
    logits = np.array([[1.0], [3.0], [2.0], [4.0]])
    m = compute_metrics(logits, np.array([1.0, 2.0, 3.0, 4.0]), "regression", prefix="val", loss=0.5)
    assert m["val_mse"] == pytest.approx(0.5)
    assert m["val_pearson"] == pytest.approx(0.8)
    assert m["val_spearman"] == pytest.approx(0.8)
    assert "val_accuracy" not in m


def test_undefined_correlation_is_nan_and_null_in_json():
    m = regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert math.isnan(m["pearson"]) and m["mse"] == pytest.approx(2 / 3)
    assert json.loads(json.dumps(to_jsonable(m)))["pearson"] is None


def test_multilabel_metrics_threshold_logits_at_zero():
    logits = np.array([[2.0, -1.0], [3.0, -2.0]])
    m = compute_metrics(logits, np.array([[1, 0], [1, 1]]), "multi_label_classification", prefix="test")
    assert m["test_accuracy"] == 0.5  # exact match on the first row only
    assert m["test_recall_micro"] == pytest.approx(2 / 3)
    assert m["test_precision_micro"] == 1.0


def test_selection_metric_is_accuracy_or_loss_for_regression():
    assert selection_metric("single_label_classification") == ("val_accuracy", "max")
    assert selection_metric("regression") == ("val_loss", "min")
