"""Train and use a classifier from Python objects, in the style of fastText's ``train_supervised`` and of
scikit-learn's estimators: texts and labels as lists, NumPy arrays, pandas Series or a DataFrame, no files to write.

    from wave_network import TextClassifier, train_supervised

    clf = train_supervised(texts, labels)                  # wave-nb-fit, the recommended preset
    clf.predict(["a new text"])                            # ['Sports']
    clf.predict_proba(["a new text"])                      # (1, C) NumPy array, columns in clf.classes_ order
    clf.predict_top_k(["a new text"], k=2)                 # [[("Sports", 0.91), ("World", 0.05)]]
    clf.save("my-model")                                   # a hub-ready model directory
    clf = TextClassifier.load("my-model")                  # the model stays in memory between calls

Training runs the library's one training loop (``wave_network.training.train``): the texts are written as JSON
Lines under the run directory's ``data/`` (so the run can be resumed and audited), a validation split is held out of
them to select the best epoch, and the test split is the ``eval`` data when given, else a held-out part of the
training data (``results_`` says which).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .prediction_io import TEXT_COLUMNS
from .problem_types import ProblemType

TextInput = Any  # str, a sequence of str or (str, str) pairs, a pandas Series or DataFrame, a NumPy array
DATA_DIR = "data"


class TextClassifier:
    """A Wave Network (or any registered model) text classifier held in memory.

    Args:
        model: a preset or model name (``wave-network models``); ``None`` (the default): the recommended
            ``wave-nb-fit`` for class labels, ``wave-wide`` for float (regression) labels.
        max_length: tokens per text after truncation, [CLS] and [SEP] included.
        epochs, learning_rate, batch_size: ``None`` takes the preset's own.
        seed: seeds the split, the initialisation and the batch order.
        val_fraction: share of the training texts held out to select the best epoch.
        output_dir: where the run directory goes; ``None`` trains in a temporary directory that is removed once
            the model is loaded (``save`` keeps it).
        device, precision, num_threads, compile: as ``TrainConfig``'s (``"auto"`` picks CUDA when present).
        overrides: model configuration fields to change (``{"hidden_size": 256}``), checked against the preset.
        quiet: no progress bars or per-epoch lines.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        max_length: int = 256,
        epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        seed: int = 42,
        val_fraction: float = 0.2,
        output_dir: str | Path | None = None,
        device: str = "auto",
        precision: str = "auto",
        num_threads: int | None = None,
        compile: bool = True,
        overrides: dict[str, Any] | None = None,
        quiet: bool = True,
    ):
        self.model = model
        self.max_length = max_length
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.seed = seed
        self.val_fraction = val_fraction
        self.output_dir = output_dir
        self.device = device
        self.precision = precision
        self.num_threads = num_threads
        self.compile = compile
        self.overrides = dict(overrides or {})
        self.quiet = quiet
        self.results_: dict[str, Any] = {}
        self.run_dir_: Path | None = None
        self._model: Any = None
        self._tokenizer: Any = None
        self._batch_size = 64
        self.backend = "torch"
        self.model_dir: str | None = None

    # -- training ---------------------------------------------------------------------------------------------
    def fit(
        self,
        X: TextInput,
        y: Iterable[Any] | None = None,
        *,
        eval_data: tuple[TextInput, Iterable[Any]] | None = None,
        text_column: str | None = None,
        text_pair_column: str | None = None,
        label_column: str = "label",
        label_names: Sequence[str] | None = None,
    ) -> TextClassifier:
        """Train on texts ``X`` with labels ``y`` (class names or ids, or floats for regression). ``X`` may be a
        DataFrame holding both: then ``y`` is ``None`` and the columns are ``text_column`` (default: the first
        of ``text``, ``sentence``, ``content`` ... present), ``text_pair_column`` for sentence pairs, and
        ``label_column``. ``eval_data=(texts, labels)`` is the test split reported in ``results_`` (never used
        for selection); without it a held-out part of ``X`` is. ``label_names`` fixes the class order."""
        from .data import DataConfig
        from .training import TrainConfig, train
        from .training.config import OWN_DATA_FALLBACK, OWN_DATA_MODEL

        train_rows = _rows(X, y, text_column, text_pair_column, label_column, what="training data")
        test_rows = None
        if eval_data is not None:
            if not isinstance(eval_data, tuple) or len(eval_data) != 2:
                raise ValueError("fit(eval_data=...): expected a (texts, labels) tuple")
            test_rows = _rows(*eval_data, text_column, text_pair_column, label_column, what="eval_data")
        temporary = self.output_dir is None
        run_dir = Path(tempfile.mkdtemp(prefix="wave-network-fit-")) if temporary else Path(self.output_dir)
        try:
            files = _write_rows(run_dir / DATA_DIR, train_rows, test_rows)
            data = DataConfig(
                train_file=str(files["train"]),
                test_file=str(files["test"]) if "test" in files else None,
                text_columns=("text", "text_pair") if "text_pair" in train_rows[0] else ("text",),
                label_column="label",
                label_names=tuple(str(n) for n in label_names) if label_names else None,
                problem_type=_problem_type(train_rows),
                max_length=self.max_length,
                val_fraction=self.val_fraction,
                seed=self.seed,
            )
            single_label = _problem_type(train_rows) == ProblemType.SINGLE_LABEL.value
            cfg = TrainConfig(
                model=self.model or (OWN_DATA_MODEL if single_label else OWN_DATA_FALLBACK),
                model_overrides=self.overrides,
                data=data,
                learning_rate=self.learning_rate,
                epochs=self.epochs,
                batch_size=self.batch_size,
                precision=self.precision,
                seed=self.seed,
                compile=self.compile,
                output_dir=str(run_dir),
                device=self.device,
                num_threads=self.num_threads,
                quiet=self.quiet,
            )
            result = train(cfg)
            self.results_ = result.results
            self._load(run_dir, self.device)
            self.run_dir_ = None if temporary else run_dir
        finally:
            if temporary:
                shutil.rmtree(run_dir, ignore_errors=True)
        return self

    # -- loading and saving -----------------------------------------------------------------------------------
    @classmethod
    def load(
        cls, path: str | Path, *, device: str = "auto", backend: str = "torch", batch_size: int = 64
    ) -> TextClassifier:
        """A classifier from a run directory (its ``best/``), a saved model directory, or, with
        ``backend="onnx"`` (``"onnx-int8"``: its quantised model), a directory written by ``wave-network export``, run
        on onnxruntime. The model stays loaded."""
        clf = cls()
        clf._batch_size = batch_size
        clf._load(Path(path), device, backend)
        from .training.rundir import RESULTS

        results = Path(path) / RESULTS
        if results.exists():
            clf.results_ = json.loads(results.read_text())
            clf.run_dir_ = Path(path)
        return clf

    def _load(self, path: Path, device: str, backend: str = "torch") -> None:
        if backend in ("onnx", "onnx-int8"):
            from .export import OnnxModel

            self._model = OnnxModel(path, quantized=backend == "onnx-int8")
            self._tokenizer = self._model.tokenizer
        elif backend == "torch":
            from .training.inference import load_model

            self._model, self._tokenizer = load_model(path, device)
        else:
            raise ValueError(f"backend={backend!r}; expected 'torch', 'onnx' or 'onnx-int8'")
        self.max_length = int(self._tokenizer.model_max_length)
        self.backend = backend
        self.model_dir = str(path)

    def save(self, path: str | Path) -> Path:
        """Write a model directory: weights (safetensors), config with the label names, tokenizer, the model's
        code for ``trust_remote_code=True``, and a model card with the training results when there are any."""
        from .model_card import write_model_card
        from .training.checkpoint import save_model_dir

        self._check_fitted()
        if self.backend != "torch":
            raise ValueError("save(): an ONNX classifier is already an exported directory; copy it instead")
        path = save_model_dir(self._model, self._tokenizer, path)
        if self.results_ and getattr(self._model.config, "model_type", None) == "wave":
            write_model_card(path, self._model.config, self.results_)
        return path

    # -- predicting -------------------------------------------------------------------------------------------
    @property
    def classes_(self) -> list[str]:
        """Label names in the order of ``predict_proba``'s columns."""
        self._check_fitted()
        config = self._model.config
        return [str(config.id2label[i]) for i in range(config.num_labels)]

    @property
    def labels(self) -> list[str]:
        """``classes_``, under the name ``wave_network.serving.Predictor`` uses."""
        return self.classes_

    @property
    def problem_type(self) -> str:
        from .training.inference import _problem_type

        self._check_fitted()
        return _problem_type(self._model)

    def logits(self, X: TextInput, *, text_column: str | None = None, text_pair_column: str | None = None):
        """Raw model outputs (N, C) as a NumPy array, in input order."""
        from .training.inference import _check_texts, predict_logits

        self._check_fitted()
        texts, _ = _texts(X, text_column, text_pair_column)
        _check_texts(texts)
        if not texts:
            return np.zeros((0, self._model.config.num_labels), dtype=np.float32)
        with torch.inference_mode():
            logits = predict_logits(self._model, self._tokenizer, texts, self._batch_size, max_length=self.max_length)
        return logits.numpy()

    def predict_proba(self, X: TextInput, **columns: str | None) -> np.ndarray:
        """Class probabilities (N, C), columns in ``classes_`` order (sigmoids for a multi-label model)."""
        from .training.inference import probabilities

        single = isinstance(X, str)
        probs = probabilities(torch.from_numpy(self.logits(X, **columns)), self.problem_type).numpy()
        return probs[0] if single else probs

    def predict(self, X: TextInput, **columns: str | None) -> Any:
        """The predicted label of each text (its name; a list of names for multi-label models; the value for
        regression). A single string gives a single answer."""
        from .training.inference import prediction_records

        single = isinstance(X, str)
        records = prediction_records(torch.from_numpy(self.logits(X, **columns)), self.problem_type, self.classes_)
        labels = [r["score"] if r["label"] is None else r["label"] for r in records]
        return labels[0] if single else labels

    def predict_top_k(
        self, X: TextInput, k: int = 1, threshold: float = 0.0, **columns: str | None
    ) -> list[list[tuple[str, float]]]:
        """fastText's ``predict(text, k, threshold)``: for each text its ``k`` most probable labels (``-1``: all)
        with probability >= ``threshold``, as ``(label, probability)`` pairs, most probable first."""
        single = isinstance(X, str)
        rows = [[(x["label"], x["probability"]) for x in r["top_k"]] for r in self.records(X, k, threshold, **columns)]
        return rows[0] if single else rows

    def records(self, X: TextInput, k: int = 1, threshold: float = 0.0, **columns: str | None) -> list[dict]:
        """The records ``wave-network predict`` prints: ``label``, ``label_id``, ``probabilities`` and ``top_k``."""
        from .training.inference import prediction_records

        texts = [X] if isinstance(X, str) else X
        return prediction_records(
            torch.from_numpy(self.logits(texts, **columns)), self.problem_type, self.classes_, k, threshold
        )

    def score(self, X: TextInput, y: Iterable[Any], **columns: str | None) -> float:
        """Accuracy on ``(X, y)`` (scikit-learn's ``score``); labels given as names or ids."""
        return float(self.evaluate(X, y, **columns)["accuracy"])

    def evaluate(self, X: TextInput, y: Iterable[Any], k: int = 1, **columns: str | None) -> dict[str, Any]:
        """All metrics of ``wave-network evaluate`` on ``(X, y)``: accuracy, F1s, MCC, confusion matrix, precision
        and recall at ``k`` (or MSE and correlations for regression). Labels are matched to the model's by name;
        unknown ones are an error that names them."""
        logits = self.logits(X, **columns)
        labels = list(y.tolist() if hasattr(y, "tolist") else y)
        if len(labels) != len(logits):
            raise ValueError(f"{len(logits)} texts but {len(labels)} labels")
        return self.metrics(logits, self.label_ids(labels), k=k)

    def label_ids(self, labels: Sequence[Any], *, where: str = "the labels") -> list[Any]:
        """The model's ids of ``labels`` given by name (or as ids): matched through the model's own label names,
        whatever order a data set lists them in. Regression targets are returned as floats."""
        self._check_fitted()
        if self.problem_type == ProblemType.REGRESSION:
            return [float(v) for v in labels]
        names = self.classes_
        index = {name: i for i, name in enumerate(names)}
        out, unknown = [], {}
        for row, label in enumerate(labels, start=1):
            if str(label) in index:
                out.append(index[str(label)])
            elif isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= int(label) < len(names):
                out.append(int(label))
            else:
                unknown.setdefault(str(label), row)
        if unknown:
            shown = ", ".join(f"{name!r} (first in row {row})" for name, row in list(unknown.items())[:5])
            raise ValueError(f"{where}: label {shown} is not one the model knows: {names}")
        return out

    def metrics(self, logits: np.ndarray, label_ids: Sequence[Any], k: int = 1) -> dict[str, Any]:
        """Metrics of ``logits`` (N, C) against ``label_ids``; for single-label classifiers also fastText's ``test``
        figures: ``examples``, ``precision_at_k`` (true labels among the top k, over N x k) and ``recall_at_k``
        (over N), with ``k``."""
        from .training.metrics import compute_metrics

        labels = np.asarray(label_ids)
        metrics = compute_metrics(logits, labels, self.problem_type, prefix="x")
        out = {name[2:]: value for name, value in metrics.items()} | {"examples": len(labels)}
        if self.problem_type == ProblemType.SINGLE_LABEL and len(labels):
            k = min(k, logits.shape[-1])
            top = np.argsort(-logits, axis=-1, kind="stable")[:, :k]
            hits = int((top == labels[:, None]).any(axis=-1).sum())
            out |= {"k": k, "precision_at_k": hits / (len(labels) * k), "recall_at_k": hits / len(labels)}
        return out

    def _check_fitted(self) -> None:
        if self._model is None:
            raise RuntimeError("this TextClassifier is not trained yet: call fit(texts, labels) or load(path)")

    def __repr__(self) -> str:
        state = f"{len(self.classes_)} labels" if self._model is not None else "not fitted"
        return f"TextClassifier(model={self.model!r}, max_length={self.max_length}, {state})"


def evaluate_file(
    model_dir: str | Path,
    path: str | Path,
    *,
    text_columns: Sequence[str] | None = None,
    label_column: str | None = None,
    k: int = 1,
    batch_size: int = 64,
    device: str = "auto",
    backend: str = "torch",
) -> dict[str, Any]:
    """Metrics of a saved model on a labelled CSV, TSV, JSON Lines or Parquet file (fastText's ``test``: also
    precision and recall at ``k``), streamed in windows: memory holds the logits, not the texts. Labels are
    matched to the model's by name; errors name the file and record."""
    from .prediction_io import InputError, input_format, read_records

    path = Path(path)
    columns = list(text_columns or [])
    if len(columns) > 2:
        raise InputError("--text-column: give it once, or twice for sentence pairs")
    clf = TextClassifier.load(model_dir, device=device, backend=backend, batch_size=batch_size)
    fmt = input_format(path, None)
    if fmt == "lines":
        raise InputError(f"{path}: evaluate reads a labelled CSV, TSV, JSON Lines or Parquet file")
    records, _ = read_records(
        path,
        fmt,
        text_column=columns[0] if columns else None,
        text_pair_column=columns[1] if len(columns) == 2 else None,
    )
    label = label_column or "label"
    logits, labels, window = [], [], []

    def run() -> None:
        texts = [(r["text"], r["text_pair"]) if "text_pair" in r else r["text"] for r in window]
        logits.append(clf.logits(texts))
        window.clear()

    for row, record in enumerate(records, start=1):
        if label not in record:
            raise InputError(
                f"{path}: no label column {label!r} (fields: {', '.join(record)}); name it with --label-column"
            )
        if record[label] is None or str(record[label]).strip() == "":
            raise InputError(f"{path}, record {row}: the label is empty")
        labels.append(record[label])
        window.append(record)
        if len(window) >= 16 * batch_size:
            run()
    if window:
        run()
    if not labels:
        raise InputError(f"{path}: no records to evaluate")
    return clf.metrics(np.concatenate(logits), clf.label_ids(labels, where=str(path)), k=k)


def train_supervised(texts: TextInput, labels: Iterable[Any] | None = None, **options: Any) -> TextClassifier:
    """fastText's ``train_supervised``, for Python objects: ``TextClassifier(**options).fit(texts, labels)``.
    Options that ``fit`` takes (``eval_data``, ``text_column`` ...) go to ``fit``, the rest to the constructor."""
    fit_names = ("eval_data", "text_column", "text_pair_column", "label_column", "label_names")
    fit_options = {name: options.pop(name) for name in fit_names if name in options}
    return TextClassifier(**options).fit(texts, labels, **fit_options)


def _texts(X: TextInput, text_column: str | None, text_pair_column: str | None) -> tuple[list, Any]:
    """``(texts, frame)``: texts as str or (str, str) tuples, and the DataFrame they came from (or ``None``)."""
    if isinstance(X, str):
        return [X], None
    if hasattr(X, "columns"):  # a pandas DataFrame
        column = text_column or next((c for c in TEXT_COLUMNS if c in X.columns), None)
        if column is None or column not in X.columns:
            raise ValueError(
                f"the DataFrame has no text column {text_column or 'text'!r} (columns: {list(X.columns)}); "
                "name it with text_column="
            )
        firsts = X[column].tolist()
        if text_pair_column:
            if text_pair_column not in X.columns:
                raise ValueError(f"the DataFrame has no column {text_pair_column!r} (columns: {list(X.columns)})")
            return list(zip(firsts, X[text_pair_column].tolist(), strict=True)), X
        return firsts, X
    if hasattr(X, "tolist"):  # a pandas Series or NumPy array
        X = X.tolist()
    texts = [tuple(x) if isinstance(x, list) else x for x in X]
    return texts, None


def _rows(
    X: TextInput,
    y: Iterable[Any] | None,
    text_column: str | None,
    text_pair_column: str | None,
    label_column: str,
    *,
    what: str,
) -> list[dict[str, Any]]:
    texts, frame = _texts(X, text_column, text_pair_column)
    if y is None:
        if frame is None or label_column not in frame.columns:
            raise ValueError(f"{what}: no labels; pass y, or a DataFrame with a {label_column!r} column")
        y = frame[label_column]
    labels = y.tolist() if hasattr(y, "tolist") else list(y)
    if len(labels) != len(texts):
        raise ValueError(f"{what}: {len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise ValueError(f"{what}: no texts")
    rows = []
    for number, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        parts = text if isinstance(text, tuple) else (text,)
        if len(parts) not in (1, 2) or not all(isinstance(p, str) for p in parts):
            raise ValueError(f"{what}, row {number}: expected a text or a (text, text_pair) pair, got {text!r}")
        if label is None or (isinstance(label, float) and np.isnan(label)):
            raise ValueError(f"{what}, row {number}: the label is missing")
        row = {"text": parts[0], "label": label.item() if hasattr(label, "item") else label}
        if len(parts) == 2:
            row["text_pair"] = parts[1]
        rows.append(row)
    if len({len(r) for r in rows}) > 1:
        raise ValueError(f"{what}: a mix of single texts and (text, text_pair) pairs")
    return rows


def _problem_type(rows: list[dict[str, Any]]) -> str | None:
    """Class names or integer ids are a classification; floats are left to the loader (regression unless all are
    whole numbers, which it says in a notice)."""
    if all(isinstance(r["label"], (str, int)) for r in rows):
        return ProblemType.SINGLE_LABEL.value
    return None


def _write_rows(directory: Path, train: list[dict], test: list[dict] | None) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {"train": directory / "train.jsonl"}
    if test is not None:
        files["test"] = directory / "test.jsonl"
    for name, path in files.items():
        rows = train if name == "train" else test
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        if path.exists() and path.read_text(encoding="utf-8") != text:
            raise FileExistsError(
                f"{path} holds other data than this fit() was given; choose another output_dir (a run directory "
                "keeps the texts it was trained on)"
            )
        path.write_text(text, encoding="utf-8")
    return files
