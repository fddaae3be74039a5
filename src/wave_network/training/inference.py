"""Using a trained model directory (a run's ``best/``, or any ``save_pretrained`` directory with its
tokenizer): ``evaluate`` it on a data set split, or ``predict`` labels for raw texts."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from .. import baselines  # noqa: F401  (registers the baselines' Auto classes)
from .. import data as wn_data
from ..data.tokenization import encode, pad_token_id_of
from ..devices import resolve_device
from ..modeling_wave import WaveForSequenceClassification  # noqa: F401  (registers the Wave Auto classes)
from ..problem_types import ProblemType
from .checkpoint import damaged, recover_dir
from .environment import resolve_precision, tune_allocator
from .evaluation import MODEL_INPUTS, evaluate_model
from .progress import ProgressBars, hide_library_progress_bars
from .rundir import BEST, LAST, METRICS, RESULTS

logger = logging.getLogger("wave_network.training")


def resolve_model_dir(path: str | Path) -> Path:
    """A model directory, or a run directory whose ``best/`` is used."""
    path = Path(path)
    recover_dir(path / BEST)
    if (path / BEST / "config.json").exists():
        return path / BEST
    if any((path / name).exists() for name in (METRICS, RESULTS, LAST)):  # its config.json is the run's
        raise FileNotFoundError(
            f"{path} is a run directory without a best/ checkpoint (the run stopped before it saved one); "
            "finish it with resume, or give a model directory"
        )
    if (path / "config.json").exists():
        return path
    raise FileNotFoundError(f"{path} is neither a saved model directory nor a run directory with best/")


def load_model(model_dir: str | Path, device: str | torch.device = "cpu") -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a model or run directory, the model in eval mode on ``device``."""
    path = resolve_model_dir(model_dir)
    tune_allocator()
    try:
        with hide_library_progress_bars():
            model = AutoModelForSequenceClassification.from_pretrained(path)
            tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as error:  # SafetensorError, JSON and OS errors of a damaged directory
        raise damaged(path, error) from error
    return model.to(resolve_device(device)).eval(), tokenizer


def _problem_type(model: Any) -> str:
    problem = getattr(model.config, "problem_type", None)
    if problem is None:
        return (ProblemType.REGRESSION if model.config.num_labels == 1 else ProblemType.SINGLE_LABEL).value
    return problem


def evaluate(
    model_dir: str | Path,
    data_cfg: wn_data.DataConfig,
    split: str = "test",
    *,
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "fp32",
    quiet: bool = False,
) -> dict[str, Any]:
    """Metrics of a saved model on ``split`` (``"test"``, ``"validation"`` or ``"train"``) of the data set
    ``data_cfg`` describes, named ``test_accuracy`` etc. (``val_*`` for the validation split). The texts are
    tokenised with the tokenizer saved in the model directory; ``precision`` is as in ``TrainConfig``."""
    if split not in ("train", "validation", "test"):
        raise ValueError(f"split={split!r}; expected 'train', 'validation' or 'test'")
    torch_device = resolve_device(device)
    with hide_library_progress_bars(quiet):
        model, tokenizer = load_model(model_dir, torch_device)
        tokenized, _ = wn_data.prepare(data_cfg, tokenizer)
    to_model = _label_map(model, tokenized.label_names, tokenized.problem_type)
    for notice in tokenized.provenance.get("notices", []):  # what was inferred, dropped, stripped or cut
        logger.warning(notice)
    dataset = getattr(tokenized, split)
    if to_model is not None:  # the same names in another order: the data set's ids become the model's
        dataset = dataset.map(lambda batch: {"labels": [to_model[i] for i in batch["labels"]]}, batched=True)
    loader = wn_data.make_dataloader(dataset, batch_size, shuffle=False, seed=0, pad_token_id=tokenized.pad_token_id)
    prefix = "val" if split == "validation" else split
    with ProgressBars(enabled=not quiet) as bars:
        result = evaluate_model(
            model,
            loader,
            problem_type=tokenized.problem_type,
            prefix=prefix,
            device=torch_device,
            autocast_dtype=resolve_precision(precision, torch_device),
            bars=bars,
            total=len(loader),
        )
    return result.metrics | {
        f"{prefix}_examples": result.examples,
        f"{prefix}_tokens_per_s": result.tokens_per_s,
    }


def _label_map(model: Any, label_names: Sequence[str] | None, problem_type: str) -> list[int] | None:
    """The model's id of each of the data set's label ids, matched by name; ``None`` when they already agree. A
    data set label the model was not trained on is an error that names it."""
    if problem_type == ProblemType.REGRESSION or not label_names:
        return None
    saved = {str(model.config.id2label[i]): i for i in range(model.config.num_labels)}
    unknown = [str(name) for name in label_names if str(name) not in saved]
    if unknown:
        raise ValueError(
            f"the data set has label(s) {unknown} that the model was not trained on (its labels: {list(saved)})"
        )
    mapping = [saved[str(name)] for name in label_names]
    return None if mapping == list(range(len(mapping))) else mapping


@torch.no_grad()
def predict_logits(
    model: Any,
    tokenizer: Any,
    texts: Sequence[str | tuple[str, str]],
    batch_size: int = 64,
    *,
    max_length: int | None = None,
    window: int = 16,
) -> torch.Tensor:
    """Logits (N, C) of ``texts`` (or ``(text, text_pair)`` tuples), in input order, truncated to ``max_length``
    (default: the tokenizer's ``model_max_length``, the training length for a saved run).

    Texts are tokenised ``window`` batches at a time and sorted by length inside the window before they are cut
    into batches, so a batch pads to texts of similar length: a batch then costs no more per text than one text at a
    time (in input order a batch of reviews pads to its longest, about twice the real tokens on IMDB). Memory is
    bounded by the window, whatever the number of texts.
    """
    # a fitted classic may hold buffers only, or nothing at all: then it runs on the CPU
    device = next(itertools.chain(model.parameters(), model.buffers()), torch.empty(0)).device
    max_length = max_length or tokenizer.model_max_length
    pad = pad_token_id_of(tokenizer)
    out: list[torch.Tensor] = []
    step = batch_size * window
    for start in range(0, len(texts), step):
        chunk = list(texts[start : start + step])
        pairs = [t for t in chunk if isinstance(t, (tuple, list))]
        if pairs and len(pairs) != len(chunk):
            raise ValueError("predict(): mix of single texts and (text, text_pair) tuples in one call")
        firsts = [a for a, _ in chunk] if pairs else chunk
        seconds = [b for _, b in chunk] if pairs else None
        encoded = encode(tokenizer, firsts, seconds, max_length)
        rows = [dict(zip(encoded, values, strict=True)) for values in zip(*encoded.values(), strict=True)]
        order = sorted(range(len(rows)), key=lambda i: len(rows[i]["input_ids"]))
        logits = [torch.empty(0)] * len(rows)
        for b in range(0, len(order), batch_size):
            index = order[b : b + batch_size]
            batch = wn_data.pad_batch([rows[i] for i in index], pad)
            inputs = {k: v.to(device) for k, v in batch.items() if k in MODEL_INPUTS}
            for i, row in zip(index, model(**inputs).logits.float().cpu(), strict=True):
                logits[i] = row
        out.append(torch.stack(logits) if logits else torch.zeros(0))
    return torch.cat(out) if out else torch.zeros(0)


def predict(
    model_dir: str | Path,
    texts: Sequence[str | tuple[str, str]],
    batch_size: int = 32,
    *,
    device: str = "auto",
) -> list[dict[str, Any]]:
    """Predictions for raw texts (or ``(text, text_pair)`` tuples), truncated to the training ``max_length``,
    batched by length (``predict_logits``).

    Each prediction is ``{"label": name, "label_id": id, "probabilities": {name: p, ...}}``. For multi-label
    models ``label`` and ``label_id`` are lists of the labels with p > 0.5; for regression ``label`` and
    ``label_id`` are ``None`` and ``score`` holds the predicted value.
    """
    _check_texts(texts)
    torch_device = resolve_device(device)
    model, tokenizer = load_model(model_dir, torch_device)
    problem = _problem_type(model)
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    logits = predict_logits(model, tokenizer, texts, batch_size)
    return [_prediction(row, problem, names) for row in logits]


def _check_texts(texts: Sequence[str | tuple[str, str]]) -> None:
    """Refuse empty texts: training drops them (``data.loading``), so any label for one would be a guess."""
    for number, text in enumerate(texts, start=1):
        parts = text if isinstance(text, (tuple, list)) else (text,)
        if any(not isinstance(part, str) or not part.strip() for part in parts):
            raise ValueError(
                f"text {number} is empty: there is nothing to classify (training drops empty texts, so no label "
                "would mean anything)"
            )


def probabilities(logits: torch.Tensor, problem: str) -> torch.Tensor:
    """Class probabilities of logits (N, C): softmax for single-label, sigmoid per label for multi-label; for
    regression the logits themselves (the predicted values)."""
    logits = logits.float()
    if problem == ProblemType.REGRESSION:
        return logits
    if problem == ProblemType.MULTI_LABEL:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=-1)


def top_k(probs: torch.Tensor, names: list[str], k: int = 1, threshold: float = 0.0) -> list[list[dict[str, Any]]]:
    """For each row of ``probs`` (N, C), its ``k`` most probable labels with probability >= ``threshold``, most
    probable first, as ``{"label": name, "probability": p}`` (fastText's ``predict -k K -t T``). ``k=-1``: all."""
    if k == 0 or k < -1:
        raise ValueError(f"k={k}; expected a positive number of labels, or -1 for all of them")
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold={threshold}; expected a probability between 0 and 1")
    count = probs.shape[-1] if k == -1 else min(k, probs.shape[-1])
    values, ids = probs.topk(count, dim=-1)
    return [
        [{"label": names[i], "probability": p} for i, p in zip(row_ids, row_values, strict=True) if p >= threshold]
        for row_ids, row_values in zip(ids.tolist(), values.tolist(), strict=True)
    ]


def prediction_records(
    logits: torch.Tensor, problem: str, names: list[str], k: int = 1, threshold: float = 0.0
) -> list[dict[str, Any]]:
    """One ``predict`` record per row of ``logits`` (see ``predict``), with ``top_k`` added for classifiers."""
    records = [_prediction(row, problem, names) for row in logits]
    if problem != ProblemType.REGRESSION and len(logits):
        for record, best in zip(records, top_k(probabilities(logits, problem), names, k, threshold), strict=True):
            record["top_k"] = best
    return records


def _prediction(logits: torch.Tensor, problem: str, names: list[str]) -> dict[str, Any]:
    if problem == ProblemType.REGRESSION:
        return {"label": None, "label_id": None, "score": float(logits[0]), "probabilities": {}}
    if problem == ProblemType.MULTI_LABEL:
        probs = torch.sigmoid(logits).tolist()
        ids = [i for i, p in enumerate(probs) if p > 0.5]
        return {
            "label": [names[i] for i in ids],
            "label_id": ids,
            "probabilities": dict(zip(names, probs, strict=True)),
        }
    probs = torch.softmax(logits, dim=-1).tolist()
    best = int(logits.argmax())
    return {"label": names[best], "label_id": best, "probabilities": dict(zip(names, probs, strict=True))}
