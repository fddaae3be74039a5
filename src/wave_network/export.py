"""ONNX export of a trained model directory, checked against PyTorch when it is written, and an onnxruntime
stand-in for the PyTorch model (``OnnxModel``).

    report = export_onnx("runs/ag", "exported/ag", quantize="int8")   # model.onnx, model.int8.onnx, report
    model = OnnxModel("exported/ag")                                  # onnxruntime session, config, tokenizer
    logits = predict_logits(model, model.tokenizer, ["Oil prices rise"])

The exporter is ``torch.onnx.export(dynamo=True)`` (``torch.export`` tracing, translated by onnxscript). The
TorchScript exporter (``dynamo=False``, deprecated since PyTorch 2.9) gets the wide path of ``wave-nb`` wrong: it
exports ``index_add_`` over repeated indices as a scatter that keeps one of the colliding updates instead of their
sum (it warns "does not support duplicated values in 'index' field"), and the logits differ from PyTorch's by tens.
The dynamo exporter translates ``torch.unique`` and ``index_add_`` exactly and keeps batch and length symbolic.

What the export records: the fused kernels of ``wave_network.ops`` (custom autograd Functions, ``torch.compile``
and a Python loop over batch chunks) run as the plain tensor operations they are built from while the graph is
traced (``ops.traceable``), the same formula on the whole batch at once; the model is in eval mode, so dropout is
the identity. Nothing else in the model changes.

onnx, onnxruntime and onnxscript are the optional extra ``onnx``; they are imported only when used.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from transformers import AutoConfig, AutoTokenizer
from transformers.modeling_outputs import SequenceClassifierOutput

from . import ops
from .data.batching import pad_batch
from .data.catalog import AG_NEWS_SAMPLE, TEXT_JOIN
from .data.sources import resources_dir
from .data.tokenization import encode, pad_token_id_of
from .training.inference import load_model, resolve_model_dir  # (registers the Wave and baseline Auto classes)

__all__ = [
    "FP32_TOLERANCE",
    "ExportError",
    "ExportParityError",
    "OnnxModel",
    "bundled_parity_set",
    "export_onnx",
    "is_onnx_dir",
]

ONNX_EXTRA = "ONNX export needs the onnx extra: pip install 'wave-network[onnx]'"
MODEL_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
REPORT_FILE = "export_report.json"
QUANTIZATIONS = ("int8",)
# fp32 ONNX against fp32 PyTorch: the same operations in another order (fused by onnxruntime), so only rounding
# differs; 1e-4 is far above that (about 1e-7 relative) and far below any change of a prediction.
FP32_TOLERANCE = 1e-4
# (batch size, max length) of the parity passes, None meaning the model's max length: one text at a time (no
# padding), an odd batch and every text in one batch (padding to the longest), and texts cut short.
_PARITY_SHAPES = ((1, None), (7, None), (0, None), (5, 8))  # batch size 0: all the texts at once
DEFAULT_PARITY_TEXTS = 48
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the exporter colours its messages
_SEQUENCE_MIN = 2  # every tokenised text has [CLS] and [SEP]; torch.export needs the bound (n-gram windows of 2)


class ExportError(RuntimeError):
    """The model could not be exported or the export does not compute what the model computes."""


class ExportParityError(ExportError):
    """The exported fp32 graph's logits differ from PyTorch's by more than ``FP32_TOLERANCE``."""


def _require(*names: str) -> tuple[Any, ...]:
    """The modules ``names`` of the onnx extra, or an ``ImportError`` that says how to install it."""
    import importlib

    try:
        return tuple(importlib.import_module(name) for name in names)
    except ImportError as error:
        raise ImportError(f"{ONNX_EXTRA} ({error})") from error


def _model_inputs(model: nn.Module) -> tuple[str, ...]:
    """The inputs the graph takes: ``token_type_ids`` only where the model reads it (segment embeddings)."""
    if getattr(model.config, "global_semantics", None) == "segment":
        raise ExportError(
            "global_semantics='segment' takes the number of segments from the batch's token_type_ids "
            "(segments.max()), which a traced graph cannot depend on: ONNX export supports global_semantics='text'"
        )
    segments = getattr(model.config, "type_vocab_size", 0) > 0
    return ("input_ids", "attention_mask", "token_type_ids") if segments else ("input_ids", "attention_mask")


def _max_length(model: nn.Module, tokenizer: Any) -> int:
    """The longest input: the tokenizer's (the training length of a saved run), within the position table."""
    length = int(tokenizer.model_max_length)
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions and getattr(model.config, "position_embedding", "learned") != "none":
        length = min(length, int(positions))
    return length


class _Logits(nn.Module):
    """The model as a function from its input tensors to its logits (B, C): the graph the export records."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: Tensor, attention_mask: Tensor, token_type_ids: Tensor | None = None) -> Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter's and the quantiser's notices (progress lines, optional torchvision ops, axis names, tensors
    it leaves in fp32) are not the user's business; errors still raise. onnxruntime's quantiser logs through the
    root logger, whose ``logging.warning`` would also install a stderr handler for good: a placeholder handler
    stops that while it runs."""
    root = logging.getLogger()
    loggers = [root] + [
        logging.getLogger(name) for name in ("torch", "torch.onnx", "torch.export", "torch.fx", "onnxscript")
    ]
    levels = [logger.level for logger in loggers]
    placeholder = logging.NullHandler()
    root.addHandler(placeholder)
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeHandler(placeholder)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _export_graph(model: nn.Module, example: dict[str, Tensor], path: Path, max_length: int, opset: int | None):
    """Trace ``model`` on ``example`` and write the graph to ``path`` (one file, weights inside) with symbolic
    ``batch`` and ``sequence`` axes on every input and ``batch`` on the logits."""
    batch = torch.export.Dim("batch")
    sequence = torch.export.Dim("sequence", min=_SEQUENCE_MIN, max=max(max_length, _SEQUENCE_MIN + 1))
    names = list(example)
    try:
        with _quiet_exporter(), ops.traceable(), torch.no_grad():
            program = torch.onnx.export(
                _Logits(model).eval(),
                (),
                kwargs=example,
                dynamo=True,
                input_names=names,
                output_names=["logits"],
                dynamic_shapes={name: {0: batch, 1: sequence} for name in names},
                opset_version=opset,
                verbose=False,
            )
            program.save(str(path), external_data=False)
    except Exception as error:  # torch.export's and onnxscript's many error types: all mean "cannot export"
        lines = _ANSI.sub("", str(error)).strip().splitlines()
        raise ExportError(
            f"torch.onnx.export could not export {type(model).__name__}: {lines[0] if lines else type(error).__name__}"
        ) from error


def bundled_parity_set(n: int = DEFAULT_PARITY_TEXTS) -> tuple[list[str], list[str]]:
    """``n`` (at most 400) real texts of the bundled AG News sample's test split and their label names: its
    first 400 rows sorted by length and sampled evenly, so short and long texts alike, then put back in file order
    so that every batch mixes lengths."""
    spec = AG_NEWS_SAMPLE.layouts[0].test
    path = resources_dir() / "data" / AG_NEWS_SAMPLE.name / spec.patterns[-1]
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = [dict(zip(spec.column_names, row, strict=True)) for row in itertools.islice(csv.reader(handle), 400)]
    texts = [TEXT_JOIN.join(row[c] for c in spec.text) for row in rows]
    labels = [AG_NEWS_SAMPLE.label_names[int(row[spec.label]) - spec.label_offset] for row in rows]
    by_length = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    chosen = sorted({by_length[round(k * (len(by_length) - 1) / max(n - 1, 1))] for k in range(n)})
    return [texts[i] for i in chosen], [labels[i] for i in chosen]


def _batches(tokenizer: Any, texts: Sequence[str], batch_size: int, max_length: int, inputs: Sequence[str]):
    """Padded batches of ``texts`` in input order (so each pads to its longest), with the graph's ``inputs``."""
    encoded = encode(tokenizer, texts, None, max_length)
    rows = [dict(zip(encoded, values, strict=True)) for values in zip(*encoded.values(), strict=True)]
    pad = pad_token_id_of(tokenizer)
    for start in range(0, len(rows), batch_size):
        batch = pad_batch(rows[start : start + batch_size], pad)
        yield {name: batch[name] for name in inputs}


def _label_ids(labels: Sequence[int | str], config: Any, count: int) -> list[int]:
    if len(labels) != count:
        raise ValueError(f"parity_labels has {len(labels)} labels for {count} parity texts")
    names = {str(name): int(i) for i, name in config.id2label.items()}
    ids = []
    for label in labels:
        if isinstance(label, str) and label not in names:
            raise ValueError(f"parity label {label!r} is not one of the model's labels {sorted(names)}")
        ids.append(names[label] if isinstance(label, str) else int(label))
    return ids


def _session(path: Path, num_threads: int | None) -> Any:
    (ort,) = _require("onnxruntime")
    options = ort.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session: Any, batch: dict[str, Tensor]) -> Tensor:
    feeds = {i.name: batch[i.name].to(torch.int64).numpy() for i in session.get_inputs()}
    return torch.from_numpy(session.run(["logits"], feeds)[0]).float()


def _quantize_int8(source: Path, target: Path) -> None:
    """onnxruntime's dynamic quantisation: int8 weights of the matrix products and embedding tables, activations
    quantised on the fly per batch; no calibration data needed."""
    (quantization,) = _require("onnxruntime.quantization")
    with _quiet_exporter():
        quantization.quantize_dynamic(source, target, weight_type=quantization.QuantType.QInt8)


def export_onnx(
    model_dir: str | Path,
    output_dir: str | Path,
    *,
    quantize: str | None = None,
    parity_texts: Sequence[str] | None = None,
    parity_labels: Sequence[int | str] | None = None,
    opset: int | None = None,
) -> dict[str, Any]:
    """Export the model of ``model_dir`` (a run directory's ``best/`` or a saved model directory) to
    ``output_dir/model.onnx``, fp32, with symbolic ``batch`` and ``sequence`` axes on every input
    (``input_ids``, ``attention_mask``, and ``token_type_ids`` where the model reads it) and on the output
    ``logits``; the tokenizer and ``config.json`` (label names, problem type, and the max length as
    ``export_max_length``) go beside it, so that ``OnnxModel(output_dir)`` needs nothing else.

    The export is checked as it is written: ``parity_texts`` (default: ``bundled_parity_set()``, real AG News
    texts) are run through PyTorch and onnxruntime one at a time, in batches of 7 and all at once (batches of
    mixed lengths, so padded), and cut to 8 tokens; an fp32 logit that differs by more than ``FP32_TOLERANCE``
    raises ``ExportParityError`` (the files and the report stay, for inspection). ``quantize="int8"`` also writes
    ``model.int8.onnx`` (``onnxruntime.quantization.quantize_dynamic``) and reports how often its argmax agrees
    with PyTorch's; with ``parity_labels`` (class ids or names; by default the AG News labels of the default
    texts when the model's labels are AG News's) the accuracy of both. ``opset``: the ONNX opset (default: the
    exporter's).

    Returns the report, also written to ``output_dir/export_report.json``: ``max_abs_logit_diff``,
    ``int8_argmax_agreement``, ``int8_max_abs_logit_diff``, ``fp32_accuracy``, ``int8_accuracy`` (``None``
    where not measured), ``fp32_bytes`` and ``int8_bytes`` (file sizes), ``opset``, ``texts_checked``, ``parity``
    (one entry per pass) and the versions that made it.
    """
    if quantize is not None and quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize={quantize!r}; expected None or one of {QUANTIZATIONS}")
    onnx, ort, _ = _require("onnx", "onnxruntime", "onnxscript")
    source = resolve_model_dir(model_dir)
    out = Path(output_dir)
    if out.resolve() == source.resolve():
        raise ValueError(f"output directory {out} is the model directory: export to a directory of its own")
    model, tokenizer = load_model(source, "cpu")
    model = model.float().eval()
    inputs = _model_inputs(model)
    max_length = _max_length(model, tokenizer)
    labels = parity_labels
    if parity_texts is None:
        parity_texts, names = bundled_parity_set()
        saved = [str(model.config.id2label[i]) for i in range(model.config.num_labels)]
        if labels is None and saved == list(AG_NEWS_SAMPLE.label_names):
            labels = names
    texts = list(parity_texts)
    if not texts:
        raise ValueError("parity_texts is empty: the export is checked on real texts")
    label_ids = _label_ids(labels, model.config, len(texts)) if labels is not None else None

    out.mkdir(parents=True, exist_ok=True)
    fp32_path, int8_path = out / MODEL_FILE, out / INT8_FILE
    example = next(_batches(tokenizer, _example_texts(texts), 2, max_length, inputs))
    _export_graph(model, example, fp32_path, max_length, opset)
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(out)
    config = model.config.to_dict() | {"export_max_length": max_length}
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")

    threads = torch.get_num_threads()
    passes, reference = _parity(model, _session(fp32_path, threads), tokenizer, texts, max_length, inputs)
    worst = max(p["max_abs_logit_diff"] for p in passes)
    report: dict[str, Any] = {
        "format": "onnx",
        "source": str(source),
        "exporter": "torch.onnx.export(dynamo=True)",
        "opset": _opset(onnx.load(str(fp32_path), load_external_data=False)),
        "inputs": list(inputs),
        "max_length": max_length,
        "texts_checked": len(texts),
        "labels_checked": label_ids is not None,
        "tolerance": FP32_TOLERANCE,
        "max_abs_logit_diff": worst,
        "parity": passes,
        "fp32_bytes": fp32_path.stat().st_size,
        "int8_bytes": None,
        "int8_argmax_agreement": None,
        "int8_max_abs_logit_diff": None,
        "fp32_accuracy": _accuracy(reference, label_ids) if label_ids is not None else None,
        "int8_accuracy": None,
        "versions": {"torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": ort.__version__},
    }
    if quantize == "int8":
        _quantize_int8(fp32_path, int8_path)
        session = _session(int8_path, threads)
        int8 = torch.cat([_run(session, b) for b in _batches(tokenizer, texts, len(texts), max_length, inputs)])
        report["int8_bytes"] = int8_path.stat().st_size
        report["int8_argmax_agreement"] = float((int8.argmax(-1) == reference.argmax(-1)).float().mean())
        report["int8_max_abs_logit_diff"] = float((int8 - reference).abs().max())
        if label_ids is not None:
            report["int8_accuracy"] = _accuracy(int8, label_ids)
    elif int8_path.exists():
        int8_path.unlink()  # a stale file from an earlier export would not match this model

    report["passed"] = worst <= FP32_TOLERANCE
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    if not report["passed"]:
        where = max(report["parity"], key=lambda p: p["max_abs_logit_diff"])
        raise ExportParityError(
            f"the ONNX graph's fp32 logits differ from PyTorch's by up to {worst:.3g} (tolerance {FP32_TOLERANCE:g}),"
            f" worst in batches of {where['batch_size']} cut to {where['max_length']} tokens: {out / MODEL_FILE} "
            f"does not compute what the model computes (report: {out / REPORT_FILE})"
        )
    return report


def _parity(
    model: nn.Module, session: Any, tokenizer: Any, texts: list[str], max_length: int, inputs: Sequence[str]
) -> tuple[list[dict[str, Any]], Tensor]:
    """PyTorch against onnxruntime on ``texts`` in the passes of ``_PARITY_SHAPES``: one report entry per pass,
    and PyTorch's logits (N, C) of every text in one batch at ``max_length`` (the int8 comparison's reference)."""
    passes, reference = [], None
    for batch_size, length in _PARITY_SHAPES:
        size, cut = batch_size or len(texts), min(length or max_length, max_length)
        diff, lengths, padded, pytorch = 0.0, [], 0, []
        for batch in _batches(tokenizer, texts, size, cut, inputs):
            with torch.no_grad():
                expected = model(**batch).logits.float()  # (B, C)
            diff = max(diff, float((_run(session, batch) - expected).abs().max()))
            tokens = batch["attention_mask"].sum(1)  # (B,) each text's real tokens
            lengths += tokens.tolist()
            padded += int((tokens < batch["attention_mask"].shape[1]).sum())
            pytorch.append(expected)
        if batch_size == 0 and length is None:
            reference = torch.cat(pytorch)  # (N, C)
        passes.append(
            {
                "batch_size": size,
                "max_length": cut,
                "batches": len(pytorch),
                "shortest": min(lengths),  # tokens of the shortest text
                "longest": max(lengths),
                "padded_texts": padded,  # texts padded to a longer one in their batch
                "max_abs_logit_diff": diff,
            }
        )
    return passes, reference


def _example_texts(texts: Sequence[str]) -> list[str]:
    """Two texts of different lengths to trace with: a batch of 2 with padding, so neither axis is traced at
    size 1 (which ``torch.export`` would fix) nor at equal sizes (which it would tie together)."""
    ordered = sorted(texts, key=len)
    return [ordered[0], ordered[-1]] if len(ordered) > 1 else [ordered[0], ordered[0] + TEXT_JOIN + ordered[0]]


def _opset(graph: Any) -> int:
    return next(int(o.version) for o in graph.opset_import if o.domain in ("", "ai.onnx"))


def _accuracy(logits: Tensor, labels: Sequence[int]) -> float:
    return float((logits.argmax(-1) == torch.as_tensor(labels)).float().mean())


def is_onnx_dir(path: str | Path) -> bool:
    """Whether ``path`` is a directory ``export_onnx`` wrote (an ONNX graph and its config)."""
    path = Path(path)
    return (path / MODEL_FILE).is_file() and (path / "config.json").is_file()


class OnnxModel:
    """An exported model run by onnxruntime on the CPU, standing in for the PyTorch model: called with
    ``input_ids``, ``attention_mask`` (and ``token_type_ids``, used only where the graph takes it) as torch
    tensors, it returns an output with ``.logits`` (B, C) fp32, so ``training.inference.predict_logits`` runs it
    as it runs the PyTorch model (it has no parameters, so it runs on the CPU).

    ``quantized`` loads ``model.int8.onnx``; ``num_threads`` sets onnxruntime's intra-op threads (default:
    onnxruntime's choice, one per physical core). ``.config`` is the model's transformers config (with
    ``export_max_length``), ``.tokenizer`` its tokenizer, ``.session`` the ``onnxruntime.InferenceSession``.
    """

    def __init__(self, export_dir: str | Path, quantized: bool = False, num_threads: int | None = None):
        path = Path(export_dir)
        if not is_onnx_dir(path):
            raise FileNotFoundError(f"{path} is not an ONNX export (no {MODEL_FILE} and config.json): run export_onnx")
        graph = path / (INT8_FILE if quantized else MODEL_FILE)
        if not graph.is_file():
            raise FileNotFoundError(f"{graph} does not exist: export with quantize='int8' (--quantize int8)")
        self.path = path
        self.quantized = quantized
        self.session = _session(graph, num_threads)
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.config = AutoConfig.from_pretrained(path)
        self.tokenizer = AutoTokenizer.from_pretrained(path)

    def __call__(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        **kwargs: Any,
    ) -> SequenceClassifierOutput:
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        defaults = {"attention_mask": torch.ones_like(input_ids), "token_type_ids": torch.zeros_like(input_ids)}
        batch = {name: given[name] if given[name] is not None else defaults[name] for name in self.input_names}
        return SequenceClassifierOutput(logits=_run(self.session, {k: v.cpu() for k, v in batch.items()}))

    def parameters(self) -> Iterator[Tensor]:
        """None: the weights live in the session (``predict_logits`` then feeds CPU tensors)."""
        return iter(())

    def buffers(self) -> Iterator[Tensor]:
        return iter(())

    def eval(self) -> OnnxModel:
        return self

    def __repr__(self) -> str:
        return f"OnnxModel({str(self.path)!r}, quantized={self.quantized})"
