"""The four analyses of the follow-up paper (arXiv 2411.06989) as library functions; ``wave-network analyze`` calls
them. Each writes ``<name>.json`` (every number), ``<name>.md`` (a table) and ``<name>.png`` into ``report_dir``.

* ``analyze_gradients`` and ``analyze_convergence`` train each model for ``steps`` optimiser steps through the one
  training loop (``wave_network.training.train``) with a recording callback, one ordinary run directory per
  model under ``output_dir/<analysis>/``. A finished run with the same set-up is reused.
* ``analyze_independence`` reads trained run directories and computes covariance spectra of their embeddings.
* ``analyze_complexity`` times single layers (``complexity.run_complexity``).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..baselines.checkpoints import checkpoint_label
from ..data import DataConfig
from ..reporting import analysis as figures
from ..runsets import RunSetConfig, run_dir_name, run_model
from ..training.rundir import CONFIG, RESULTS, RunDir, to_jsonable
from . import report
from .complexity import ComplexityConfig, run_complexity
from .independence import REPRESENTATIONS, independence_statistics

logger = logging.getLogger("wave_network.analysis")

__all__ = [
    "AnalysisResult",
    "IndependenceConfig",
    "TrainingAnalysisConfig",
    "analyze_complexity",
    "analyze_convergence",
    "analyze_gradients",
    "analyze_independence",
]

GRADIENT_MODELS = ["paper-modulation", "paper-interference", "transformer-1layer", "bert"]
CONVERGENCE_MODELS = ["paper-modulation", "paper-interference", "transformer-1layer", "bert", "fnet"]


@dataclass
class TrainingAnalysisConfig(RunSetConfig):
    """Training runs that record gradients or a test-accuracy curve: the shared run-set fields
    (``wave_network.runsets.RunSetConfig``; the budget is ``steps``, so ``epochs`` and ``model_epochs`` stay unset)
    and:

    Args:
        models: registered model names; empty takes the analysis's default list.
        data: data set, split and tokenisation (the same for every model).
        output_dir: run directories go to ``output_dir/<analysis>/<dataset>__<model>__seed<seed>``.
        report_dir: where the JSON, Markdown and PNG go; ``None`` uses ``output_dir/<analysis>``.
        steps: optimiser steps per model (the paper's 500 batches); the learning-rate schedule (each model's
            recipe: warm-up, linear decay) runs over exactly these steps.
        batch_size: training batch size (the paper's 32, for every model).
        every: record every this many steps (gradients: 1; convergence: the paper's 10).
        curve_samples: test texts the convergence curve evaluates (a fixed seeded sample; ``None``: all).
        seed: initialisation, batch order, validation split, test sample.
    """

    data: DataConfig = field(default_factory=DataConfig)
    output_dir: str = "runs/analysis"
    steps: int = 500
    batch_size: int = 32
    every: int | None = None
    curve_samples: int | None = 2000
    seed: int = 42

    def __post_init__(self):
        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        self.models = self.models or []
        self.check_run_set(require_models=False)
        if self.epochs is not None or self.model_epochs:
            raise ValueError("TrainingAnalysisConfig: the budget is steps; epochs and model_epochs stay unset")
        for name, value in (("steps", self.steps), ("batch_size", self.batch_size), ("every", self.every or 1)):
            if value < 1:
                raise ValueError(f"TrainingAnalysisConfig.{name} must be >= 1, got {value}")
        if self.curve_samples is not None and self.curve_samples < 1:
            raise ValueError(f"TrainingAnalysisConfig.curve_samples must be >= 1 or None, got {self.curve_samples}")


@dataclass
class IndependenceConfig:
    """Covariance spectra of trained models' embeddings.

    Args:
        runs: trained run directories (``train`` or ``compare`` output), one per model.
        data: the data set whose test split is embedded (tokenised with each run's own tokenizer and max length).
        report_dir: where the JSON, Markdown and PNG go.
        max_texts: embed at most this many test texts (a fixed seeded sample; ``None``: all).
        representation: ``"cls"`` or ``"pooled"`` (see ``independence``).
        batch_size: texts per batch for the per-batch statistics (the paper's 32).
        ratio: the ratio the KDE plot shows (all three are in the JSON).
        seed, device: sampling seed; device to embed on.
    """

    runs: list[str]
    data: DataConfig = field(default_factory=DataConfig)
    report_dir: str = "runs/analysis/independence"
    max_texts: int | None = 2048
    representation: str = "cls"
    batch_size: int = 32
    ratio: str = "largest_over_sum"
    seed: int = 42
    device: str = "cpu"

    def __post_init__(self):
        from .independence import RATIOS

        if isinstance(self.data, dict):
            self.data = DataConfig(**self.data)
        if not self.runs:
            raise ValueError("IndependenceConfig.runs: give at least one trained run directory")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"IndependenceConfig.representation must be one of {list(REPRESENTATIONS)}")
        if self.ratio not in RATIOS:
            raise ValueError(f"IndependenceConfig.ratio must be one of {list(RATIOS)}, got {self.ratio!r}")
        if self.batch_size < 2:
            raise ValueError("IndependenceConfig.batch_size must be >= 2 (a covariance needs two texts)")


@dataclass
class AnalysisResult:
    """What an analysis wrote: the JSON payload and the paths of its files."""

    name: str
    payload: dict[str, Any]
    json_path: Path
    markdown_path: Path
    plot_path: Path | None


def _report_dir(cfg_dir: str | None, fallback: Path | None = None) -> Path:
    path = Path(cfg_dir) if cfg_dir else fallback
    path.mkdir(parents=True, exist_ok=True)
    return path


def _rounded(obj: Any) -> Any:
    """Floats to 7 significant digits (measurement noise is far larger), so per-step records stay readable."""
    if isinstance(obj, float):
        return float(f"{obj:.7g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj


def _write(name: str, directory: Path, payload: dict[str, Any], markdown: str, plot: Callable | None):
    json_path = directory / f"{name}.json"
    json_path.write_text(json.dumps(_rounded(to_jsonable(payload)), indent=1) + "\n")
    md_path = directory / f"{name}.md"
    md_path.write_text(markdown)
    plot_path = None
    if plot is not None:
        plot_path = directory / f"{name}.png"
        plot(plot_path)
    logger.info("wrote %s, %s%s", json_path, md_path, f", {plot_path}" if plot_path else "")
    return AnalysisResult(name, payload, json_path, md_path, plot_path)


# --- training analyses -------------------------------------------------------------------------------------------


def _load_data(data: DataConfig, quiet: bool):
    import sys

    from ..data import prepare
    from ..training.progress import hide_library_progress_bars

    with hide_library_progress_bars(quiet or not sys.stderr.isatty()):
        return prepare(data)


def _setup(cfg: TrainingAnalysisConfig, analysis: str, model: str) -> dict[str, Any]:
    data = {k: v for k, v in asdict(cfg.data).items() if k not in ("cache_dir", "data_dir")}
    return to_jsonable(
        {
            "analysis": analysis,
            "model": model,
            "data": data,
            "steps": cfg.steps,
            "batch_size": cfg.batch_size,
            "every": cfg.every,
            "curve_samples": cfg.curve_samples if analysis == "convergence" else None,
            "seed": cfg.seed,
            "model_overrides": cfg.model_overrides.get(model, {}),
            "precision": cfg.precision,
        }
    )


def _train_recorded(cfg: TrainingAnalysisConfig, analysis: str, model: str, data, tokenizer, make_callback):
    """Train ``model`` for ``cfg.steps`` steps with the callback ``make_callback()``; returns (records, results),
    reusing a finished run directory with the same set-up. An analysis run is short: an unfinished or different one
    is started again rather than resumed."""
    run_dir = RunDir(Path(cfg.output_dir) / analysis / run_dir_name(cfg.data.dataset, model, cfg.seed))
    steps_per_epoch = math.ceil(len(data.train) / cfg.batch_size)
    train_cfg = cfg.train_config_for(
        model,
        cfg.data,
        cfg.seed,
        run_dir.path,
        batch_size=cfg.batch_size,
        epochs=math.ceil(cfg.steps / steps_per_epoch),
        max_steps=cfg.steps,
        quiet=cfg.quiet,
    )
    callback = make_callback()
    run = run_model(
        train_cfg,
        rerun=cfg.rerun,
        isolate=False,
        resume=False,
        retrain_if_different=True,
        setup=_setup(cfg, analysis, model),
        callbacks=[callback],
        data=data,
        tokenizer=tokenizer,
    )
    if run.reused:
        logger.info("%s: reusing %s", model, run_dir.path)
        record_type = "gradients" if analysis == "gradients" else "curve"
        return [r for r in run_dir.read_metrics() if r.get("type") == record_type], run_dir.read_json(RESULTS)
    return callback.records, run.result.results


def _run_models(cfg: TrainingAnalysisConfig, analysis: str, defaults: list[str], make_callback) -> dict[str, Any]:
    data, tokenizer = _load_data(cfg.data, cfg.quiet)
    models: dict[str, Any] = {}
    for i, model in enumerate(cfg.models or defaults):
        logger.info("[%d/%d] %s: %s on %s", i + 1, len(cfg.models or defaults), analysis, model, cfg.data.dataset)
        try:
            records, results = _train_recorded(cfg, analysis, model, data, tokenizer, lambda: make_callback(data))
        except Exception as exc:  # one model failing (a missing extra, no weights) must not lose the others
            logger.error("%s failed: %s", model, exc)
            models[model] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            continue
        run_dir = Path(results["run_dir"])
        model_config = json.loads((run_dir / CONFIG).read_text()).get("model_config") or {}
        models[model] = {
            "status": "ok",
            "records": records,
            "test_accuracy": results["metrics"].get("test_accuracy"),
            "params_non_embedding": results["resources"]["parameters"]["non_embedding"],
            "run_dir": str(run_dir),
            "checkpoint": checkpoint_label(model_config.get("embeddings_from") or model_config.get("_name_or_path")),
        }
    return {"dataset": cfg.data.dataset, "config": asdict(cfg), "models": models}


def analyze_gradients(cfg: TrainingAnalysisConfig) -> AnalysisResult:
    """Gradient norms per optimiser step ([CLS] embedding, all input embeddings, classifier) and, for Wave
    models, the magnitude/phase split of the [CLS] gradient (``gradients.GradientRecorder``)."""
    from .gradients import GradientRecorder

    cfg = replace(cfg, every=cfg.every or 1)
    payload = _run_models(cfg, "gradients", GRADIENT_MODELS, lambda data: GradientRecorder(every=cfg.every))
    return _training_report(
        cfg, "gradients", payload, report.gradient_summary, figures.gradient_markdown, figures.plot_gradients
    )


def _training_report(cfg, analysis: str, payload, summarise: Callable, markdown: Callable, plot: Callable):
    """Summarise a training analysis and write ``<analysis>_<dataset>.{json,md,png}``."""
    payload["summary"] = summarise(payload["models"])
    directory = _report_dir(cfg.report_dir, Path(cfg.output_dir) / analysis)
    return _write(
        f"{analysis}_{cfg.data.dataset}",
        directory,
        payload,
        markdown(payload, cfg),
        lambda path: plot(payload, path),
    )


def analyze_convergence(cfg: TrainingAnalysisConfig) -> AnalysisResult:
    """Test accuracy every ``every`` (10) steps over ``steps`` (500) steps of training, every model on one plot
    (``convergence.AccuracyCurve``)."""
    from ..data import make_dataloader
    from .convergence import AccuracyCurve

    cfg = replace(cfg, every=cfg.every or 10)

    def make_callback(data):
        test = data.test
        if cfg.curve_samples is not None and cfg.curve_samples < len(test):
            rng = np.random.default_rng(cfg.seed)
            test = test.select(sorted(rng.choice(len(test), cfg.curve_samples, replace=False).tolist()))
        loader = make_dataloader(test, 128, shuffle=False, seed=cfg.seed, pad_token_id=data.pad_token_id)
        return AccuracyCurve(loader, every=cfg.every)

    payload = _run_models(cfg, "convergence", CONVERGENCE_MODELS, make_callback)
    return _training_report(
        cfg, "convergence", payload, report.convergence_summary, figures.convergence_markdown, figures.plot_convergence
    )


# --- independence ------------------------------------------------------------------------------------------------


def analyze_independence(cfg: IndependenceConfig) -> AnalysisResult:
    """Covariance spectrum, the eigenvalue ratios and their per-batch distribution for each trained run."""
    from ..data import encode_texts, load_splits
    from ..training.inference import load_model
    from .independence import collect_representations

    splits = load_splits(replace(cfg.data, max_train_samples=None))
    test = splits.test
    if cfg.max_texts is not None and cfg.max_texts < len(test):
        rng = np.random.default_rng(cfg.seed)
        test = test.select(sorted(rng.choice(len(test), cfg.max_texts, replace=False).tolist()))
    models: dict[str, Any] = {}
    for run in cfg.runs:
        run_dir = RunDir(run)
        config = run_dir.read_json(CONFIG) if run_dir.file(CONFIG).exists() else {}
        label = (config.get("train") or {}).get("model") or Path(run).name
        try:
            model, tokenizer = load_model(run, device=cfg.device)
            trained_length = getattr(tokenizer, "model_max_length", None) or cfg.data.max_length
            max_length = min(trained_length, cfg.data.max_length)
            pairs = test["text_pair"] if "text_pair" in test.column_names else None
            loader = encode_texts(tokenizer, test["text"], max_length, text_pairs=pairs, batch_size=128)
            x = collect_representations(model, loader, cfg.representation, cfg.device)
        except Exception as exc:  # a classic model has no embeddings; report it and go on
            logger.error("%s (%s) failed: %s", label, run, exc)
            models[label] = {"status": "failed", "run_dir": str(run), "error": f"{type(exc).__name__}: {exc}"}
            continue
        stats = independence_statistics(x, cfg.batch_size, cfg.seed)
        models[label] = {"status": "ok", "run_dir": str(run), **stats}
        logger.info("%s: %s", label, {k: round(v, 4) for k, v in stats["overall"].items()})
    payload = {"dataset": cfg.data.dataset, "config": asdict(cfg), "models": models}
    directory = _report_dir(cfg.report_dir)
    name = f"independence_{cfg.data.dataset}"
    return _write(
        name,
        directory,
        payload,
        figures.independence_markdown(payload, cfg),
        lambda path: figures.plot_independence(payload, cfg.ratio, path),
    )


# --- complexity --------------------------------------------------------------------------------------------------


def analyze_complexity(cfg: ComplexityConfig, report_dir: str, progress: Callable | None = None) -> AnalysisResult:
    """Time and peak memory of forward + backward against sequence length and width, per layer kind."""
    payload = run_complexity(cfg, progress)
    directory = _report_dir(report_dir)
    name = f"complexity_{payload['device']}"
    return _write(
        name,
        directory,
        payload,
        figures.complexity_markdown(payload),
        lambda path: figures.plot_complexity(payload, path),
    )
