"""Experiment trackers. This is the only module that imports a tracking library, and it does so only inside
``create_tracker`` for the tracker asked for; a missing library raises an ``ImportError`` naming the pip
extra."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

TRACKERS = ("none", "tensorboard", "wandb", "mlflow")


class Tracker(Protocol):
    def log_params(self, params: dict[str, Any]) -> None: ...

    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def close(self) -> None: ...


class NullTracker:
    """Tracks nothing (``tracker="none"``)."""

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        pass

    def close(self) -> None:
        pass


def _missing(extra: str, error: ImportError) -> ImportError:
    return ImportError(
        f"tracker={extra!r} needs the {extra} package, which is not installed ({error}); "
        f"install it with: pip install 'wave-network[{extra}]'"
    )


def flatten(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"data": {"seed": 1}}`` -> ``{"data.seed": 1}``; lists and other values become strings."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out |= flatten(value, prefix=f"{name}.")
        elif isinstance(value, (int, float, str, bool)) or value is None:
            out[name] = value
        else:
            out[name] = str(value)
    return out


class TensorBoardTracker:
    def __init__(self, run_dir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise _missing("tensorboard", error) from error
        self._writer = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

    def log_params(self, params: dict[str, Any]) -> None:
        lines = [f"| {k} | {v} |" for k, v in flatten(params).items()]
        self._writer.add_text("config", "| field | value |\n|---|---|\n" + "\n".join(lines))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for name, value in metrics.items():
            self._writer.add_scalar(name, value, global_step=step)

    def close(self) -> None:
        self._writer.close()


class WandbTracker:
    """Weights & Biases in offline mode unless ``WANDB_MODE`` says otherwise; sync later with ``wandb
    sync``."""

    def __init__(self, run_dir: Path, run_name: str):
        try:
            import wandb
        except ImportError as error:
            raise _missing("wandb", error) from error
        self._run = wandb.init(
            project="wave-network",
            name=run_name,
            dir=str(run_dir),
            mode=os.environ.get("WANDB_MODE", "offline"),
        )

    def log_params(self, params: dict[str, Any]) -> None:
        self._run.config.update(flatten(params), allow_val_change=True)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._run.log(metrics, step=step)

    def close(self) -> None:
        self._run.finish()


class MlflowTracker:
    """MLflow with a local file store in ``<run_dir>/mlruns`` unless ``MLFLOW_TRACKING_URI`` names another."""

    _MAX_PARAM_CHARS = 500  # MLflow rejects longer parameter values

    def __init__(self, run_dir: Path, run_name: str):
        try:
            import mlflow
        except ImportError as error:
            raise _missing("mlflow", error) from error
        self._mlflow = mlflow
        if "MLFLOW_TRACKING_URI" not in os.environ:
            mlflow.set_tracking_uri((run_dir / "mlruns").resolve().as_uri())
        mlflow.set_experiment("wave-network")
        mlflow.start_run(run_name=run_name)

    def log_params(self, params: dict[str, Any]) -> None:
        values = {k: str(v)[: self._MAX_PARAM_CHARS] for k, v in flatten(params).items()}
        self._mlflow.log_params(values)

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self._mlflow.log_metrics(metrics, step=step)

    def close(self) -> None:
        self._mlflow.end_run()


def create_tracker(kind: str, run_dir: str | Path, run_name: str) -> Tracker:
    """The tracker called ``kind`` (one of ``TRACKERS``), writing under ``run_dir``."""
    run_dir = Path(run_dir)
    if kind == "none":
        return NullTracker()
    if kind == "tensorboard":
        return TensorBoardTracker(run_dir)
    if kind == "wandb":
        return WandbTracker(run_dir, run_name)
    if kind == "mlflow":
        return MlflowTracker(run_dir, run_name)
    raise ValueError(f"tracker={kind!r}; expected one of {TRACKERS}")
