"""Model cards: the ``README.md`` of a saved model directory, in the Hugging Face hub's format (YAML metadata, then
what the model is, the data and metrics it was trained and measured on, its intended use, its limitations and how to
load it).

``save_pretrained`` writes a short card for any Wave model; a training run rewrites the card of its ``best/``
checkpoint with the data set, the selection on validation and the test metrics of ``results.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARD = "README.md"
PAPER = "https://arxiv.org/abs/2411.02674"


def write_model_card(directory: str | Path, config: Any, results: dict[str, Any] | None = None) -> Path:
    """Write ``directory/README.md`` for a model with ``config`` (a ``PretrainedConfig``), and, for a trained run,
    the ``results`` its runner wrote (``results.json``)."""
    path = Path(directory) / CARD
    path.write_text(render_model_card(config, results))
    return path


def render_model_card(config: Any, results: dict[str, Any] | None = None) -> str:
    results = results or {}
    labels = [str(config.id2label[i]) for i in range(config.num_labels)] if config.num_labels > 1 else []
    dataset = results.get("dataset")
    metadata = {
        "library_name": "transformers",
        "pipeline_tag": "text-classification",
        "tags": ["wave-network", "text-classification", "custom_code"],
        "license": "apache-2.0",
    }
    if dataset:
        metadata["datasets"] = [str(dataset)]
    lines = ["---", *_yaml(metadata), "---", "", f"# Wave Network text classifier{_on(dataset)}", ""]
    lines += [
        f"A Wave Network ({PAPER}): each token is a complex vector whose magnitude is the global semantics of the "
        "text and whose phase is the token's relation to it; tokens are mixed by wave "
        f"{getattr(config, 'wave_mode', 'modulation')} instead of attention.",
        "",
        "## Model",
        "",
        *_table(_model_rows(config, results)),
        "",
    ]
    if labels:
        lines += ["Labels, in logit order: " + ", ".join(f"`{name}`" for name in labels) + ".", ""]
    if results:
        lines += _results_section(results)
    lines += [
        "## Intended use",
        "",
        "Classifying short and long texts like those it was trained on, on a CPU or a GPU, where a small, fast model "
        "is worth a few points of accuracy against a pre-trained transformer. Compare it with a TF-IDF + linear model "
        "on your own data before relying on it.",
        "",
        "## Limitations",
        "",
        "- Trained from scratch on one data set: it knows only the vocabulary and the label set of that data; texts "
        "from another domain, language or period get confident but unreliable labels.",
        "- The wave mixing summarises a text by its global semantics (a per-dimension norm over tokens), so word order "
        "and composition (negation, contrast) are only weakly modelled.",
        "- Texts longer than the training length are truncated to it.",
        "- It inherits the biases of its training data; it has not been audited for fairness.",
        "",
        "## How to load",
        "",
        "```python",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline",
        "",
        'classify = pipeline("text-classification", model="DIR", trust_remote_code=True)',
        'classify(["a text to label", "another one"], truncation=True, top_k=None)  # every label\'s score',
        "",
        'model = AutoModelForSequenceClassification.from_pretrained("DIR", trust_remote_code=True)',
        'tokenizer = AutoTokenizer.from_pretrained("DIR", trust_remote_code=True)',
        "```",
        "",
        "`trust_remote_code=True` runs the model code saved beside the weights (`modeling_wave.py` and the files it "
        "imports), so the `wave-network` package is not needed; `truncation=True` cuts texts to the training length. "
        "With it installed, `wave-network predict DIR TEXT` "
        "and `wave_network.TextClassifier.load(DIR)` work too.",
        "",
    ]
    return "\n".join(lines)


def _on(dataset: Any) -> str:
    return f" ({dataset})" if dataset else ""


def _model_rows(config: Any, results: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    if results.get("model"):
        rows.append(("preset", f"`{results['model']}`"))
    for name in ("wave_mode", "readout", "hidden_size", "num_layers", "vocab_size", "problem_type"):
        value = getattr(config, name, None)
        if value is not None:
            rows.append((name, f"`{value}`"))
    parameters = (results.get("resources") or {}).get("parameters")
    if isinstance(parameters, dict) and parameters.get("total"):
        rows.append(("parameters", f"{parameters['total']:,}"))
    return rows


def _results_section(results: dict[str, Any]) -> list[str]:
    metrics = results.get("metrics") or {}
    selection = results.get("selection") or {}
    rows = [
        (name, f"{value:.4f}")
        for name, value in metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and name.startswith(("test_", "val_"))
    ]
    lines = ["## Training and evaluation", ""]
    lines.append(
        f"Trained on `{results.get('dataset')}` (seed {results.get('seed')}, {results.get('epochs_completed')} "
        f"epochs, {results.get('precision', 'fp32')} on {results.get('device')}). The checkpoint is the epoch with "
        f"the best `{selection.get('monitor')}` on a validation split held out of the training data (epoch "
        f"{selection.get('best_epoch')}); the test split was used once, on that checkpoint."
    )
    lines.append("")
    if rows:
        lines += _table(rows, header=("metric", "value"))
        lines.append("")
    command = results.get("command")
    if command:
        lines += ["Command:", "", "```", " ".join(str(part) for part in command), "```", ""]
    return lines


def _table(rows: list[tuple[str, str]], header: tuple[str, str] = ("field", "value")) -> list[str]:
    return [f"| {header[0]} | {header[1]} |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)]


def _yaml(values: dict[str, Any]) -> list[str]:
    lines = []
    for key, value in values.items():
        if isinstance(value, list):
            lines.append(f"{key}:")
            lines += [f"- {json.dumps(item)}" for item in value]
        else:
            lines.append(f"{key}: {json.dumps(value)}")
    return lines
