"""``wave_network.tune``: an Optuna study of tiny Wave Network runs on the bundled AG News sample. The search space
is checked before any trial; the best trial becomes a configuration ``train --config`` accepts; a study resumes;
two worker processes share one study on SQLite and on the PostgreSQL server of this machine (skipped, with the
reason, where none is reachable); a pruned trial stops before its last epoch; failed and abandoned trials are
recorded and replaced."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
import yaml

optuna = pytest.importorskip("optuna", reason="the tune extra (optuna) is not installed")

from wave_network import config_files  # noqa: E402
from wave_network.config_files import ConfigFileError  # noqa: E402
from wave_network.tune import TuneConfig, load_space, open_storage, tune  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"
POSTGRES_URL = os.environ.get("WAVE_NETWORK_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")

# A Wave Network small enough for 2 CPU cores (as in test_training.py), on 120 training rows: a trial takes about a
# second, so a study's cost is its Python start-up.
BASE = {
    "model": {
        "name": "paper-modulation",
        "hidden_size": 16,
        "ffn_dim": 16,
        "embedding_init_std": 0.1,
        "max_position_embeddings": 64,
    },
    "data": {"dataset": "ag_news_sample", "max_train_samples": 120, "max_eval_samples": 40, "max_length": 24},
    "train": {
        "learning_rate": 1e-2,
        "epochs": 2,
        "batch_size": 32,
        "precision": "fp32",
        "num_threads": 1,
        "compile": False,
        "quiet": True,
    },
}
SPACE = {
    "train.learning_rate": {"low": 1e-3, "high": 5e-2, "log": True},
    "model.dropout": {"low": 0.0, "high": 0.2},
    "train.batch_size": {"choices": [16, 32]},
}
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One tokenisation cache for the module: the worker processes read what the first study wrote."""
    return str(tmp_path_factory.mktemp("tune_cache"))


@pytest.fixture
def files(tmp_path, cache_dir):
    """The base configuration and the search space as the files a user would write."""
    base = json.loads(json.dumps(BASE))
    base["data"]["cache_dir"] = cache_dir
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(SPACE))
    return tmp_path / "base.yaml", tmp_path / "space.yaml"


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'study.db'}"


def load(name: str, url: str):
    return optuna.load_study(study_name=name, storage=open_storage(url))


def test_study_resumes_and_writes_a_best_config_train_accepts(files, tmp_path):
    base, space = files
    out = tmp_path / "study"
    first = tune(TuneConfig(space=space, base=base, n_trials=2, output_dir=out, study_name="s", quiet=True))
    assert first.counts["complete"] + first.counts["pruned"] == 2
    before = {t.number: (t.params, t.datetime_start) for t in load("s", sqlite_url(out)).trials}

    # the same command with a larger budget continues the study: the two trials are kept, one more runs
    result = tune(TuneConfig(space=space, base=base, n_trials=3, output_dir=out, study_name="s", quiet=True))
    study = load("s", sqlite_url(out))
    finished = study.get_trials(states=FINISHED)
    assert len(study.trials) == len(finished) == 3
    assert {t.number: (t.params, t.datetime_start) for t in study.trials if t.number in before} == before
    assert sorted(p.name for p in out.glob("trial_*")) == ["trial_000", "trial_001", "trial_002"]

    # best.yaml: a configuration file whose values are the best trial's, with no run directory of its own
    best = study.best_trial
    assert result.best_trial == best.number and result.best_value == pytest.approx(best.value)
    cfg = config_files.to_train_config(config_files.load_file(out / "best.yaml"))
    assert cfg.learning_rate == pytest.approx(best.params["train.learning_rate"])
    assert cfg.batch_size == best.params["train.batch_size"]
    assert cfg.model_overrides["dropout"] == pytest.approx(best.params["model.dropout"])
    assert cfg.model_overrides["hidden_size"] == 16 and cfg.epochs == 2
    assert cfg.output_dir is None and cfg.resume is False

    # the objective is the validation metric of the run's selected checkpoint; test metrics are only recorded
    run = json.loads((out / f"trial_{best.number:03d}" / "results.json").read_text())
    assert best.value == pytest.approx(run["selection"]["best_value"]) and run["selection"]["split"] == "validation"
    assert best.user_attrs["test_metrics"]["test_accuracy"] == pytest.approx(run["metrics"]["test_accuracy"])

    report = json.loads((out / "trials.json").read_text())
    assert report["metric"] == "val_accuracy" and report["direction"] == "maximize"
    assert [t["number"] for t in report["trials"]] == [0, 1, 2] and report["best"]["number"] == best.number
    assert "| trial | state | val_accuracy |" in (out / "trials.md").read_text()
    for plot in ("history.png", "importance.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # a finished study runs nothing more
    again = tune(TuneConfig(space=space, base=base, n_trials=3, output_dir=out, study_name="s", quiet=True))
    assert again.counts["complete"] + again.counts["pruned"] == 3 and len(load("s", sqlite_url(out)).trials) == 3

    # resuming with another space would mix incomparable trials: refused
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"train.learning_rate": {"low": 1e-4, "high": 1e-3, "log": True}}))
    with pytest.raises(ValueError, match="other settings.*space"):
        tune(TuneConfig(space=other, base=base, n_trials=4, output_dir=out, study_name="s", quiet=True))


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial):
        return True


def test_a_pruned_trial_stops_before_its_last_epoch(files, tmp_path):
    base, space = files
    out = tmp_path / "study"
    result = tune(
        TuneConfig(space=space, base=base, n_trials=1, output_dir=out, study_name="p", pruner=AlwaysPrune(), quiet=True)
    )
    assert result.counts["pruned"] == 1 and result.best_trial is None
    (trial,) = load("p", sqlite_url(out)).trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [1]  # reported after the first of two validations, then stopped
    run = json.loads((out / "trial_000" / "results.json").read_text())
    assert run["stop_reason"] == "pruned" and run["epochs_completed"] == 1
    assert not (out / "best.yaml").exists()  # no completed trial, nothing to recommend
    assert json.loads((out / "trials.json").read_text())["trials"][0]["state"] == "PRUNED"


def test_failed_trials_are_recorded_and_a_worker_stops_after_three_in_a_row(files, tmp_path, monkeypatch):
    import wave_network.training

    def broken(cfg, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(wave_network.training, "train", broken)
    base, space = files
    out = tmp_path / "study"
    with pytest.raises(RuntimeError, match="(?s)3 trials failed in a row.*disk full"):
        tune(TuneConfig(space=space, base=base, n_trials=5, output_dir=out, study_name="f", quiet=True))
    trials = load("f", sqlite_url(out)).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.FAIL] * 3
    assert all(t.user_attrs["error"] == "OSError: disk full" for t in trials)
    report = json.loads((out / "trials.json").read_text())
    assert report["counts"]["fail"] == 3 and report["trials"][0]["error"] == "OSError: disk full"


@pytest.mark.filterwarnings("ignore:Heartbeat of storage")  # the test asks for the orphan by hand
def test_the_trial_of_a_killed_worker_is_failed_and_replaced(files, tmp_path):
    base, space = files
    out = tmp_path / "study"
    url = sqlite_url(out)
    out.mkdir()
    storage = open_storage(url, grace_period=1)
    study = optuna.create_study(storage=storage, study_name="k", direction="maximize")
    orphan = study.ask()  # a worker that started a trial, wrote a heartbeat and was killed
    storage.record_heartbeat(orphan._trial_id)
    # restarted at once: it waits until the orphan's heartbeat is a grace period old, fails it, and runs a trial
    tune(TuneConfig(space=space, base=base, n_trials=1, output_dir=out, study_name="k", grace_period=1, quiet=True))
    states = [t.state for t in load("k", url).trials]
    assert states == [optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE]


WORKER = textwrap.dedent(
    """
    import json, logging, sys
    logging.basicConfig(level=logging.INFO)
    from wave_network.tune import TuneConfig, tune
    tune(TuneConfig(**json.loads(sys.argv[1])))
    """
)


def run_two_workers(files, tmp_path, storage: str, study_name: str, n_trials: int) -> None:
    base, space = files
    settings = {
        "space": str(space),
        "base": str(base),
        "n_trials": n_trials,
        "storage": storage,
        "study_name": study_name,
        "output_dir": str(tmp_path / "study"),
        "quiet": True,
    }
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
        "WAVE_NETWORK_COMPILE": "0",
        "OMP_NUM_THREADS": "1",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, json.dumps(settings)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    logs = [worker.communicate(timeout=300)[0] for worker in workers]
    for worker, log in zip(workers, logs, strict=True):
        assert worker.returncode == 0, log[-3000:]


def check_shared_study(study, n_trials: int) -> None:
    """Exactly ``n_trials`` finished trials, each with its own number and run directory, nothing left running;
    the only other trials are surplus ones two workers created at the same moment, which did not run."""
    finished = study.get_trials(states=FINISHED)
    assert len(finished) == n_trials
    assert len({t.number for t in finished}) == n_trials
    assert len({t.user_attrs["run_dir"] for t in finished}) == n_trials
    others = [t for t in study.trials if t.state not in FINISHED]
    assert all(t.user_attrs.get("surplus") for t in others), [(t.number, t.state, t.user_attrs) for t in others]


def test_two_workers_share_one_sqlite_study(files, tmp_path):
    storage = sqlite_url(tmp_path / "study")
    run_two_workers(files, tmp_path, storage, "shared", n_trials=4)
    study = load("shared", storage)
    check_shared_study(study, 4)
    # Each finished trial names its worker. Not asserted: that both ran one (they usually do, but a worker that
    # starts late on a loaded machine can find the budget taken, which is correct behaviour, not a failure).
    assert all(":" in t.user_attrs["worker"] for t in study.get_trials(states=FINISHED))
    assert json.loads((tmp_path / "study" / "trials.json").read_text())["counts"]["complete"] >= 1


def postgres_unavailable() -> str | None:
    """Why the PostgreSQL test cannot run here, or ``None``."""
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed (pip install psycopg2-binary)"
    from sqlalchemy.engine import make_url

    url = make_url(POSTGRES_URL)
    try:
        psycopg2.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password, dbname=url.database,
            connect_timeout=2,
        ).close()  # fmt: skip
    except psycopg2.Error as exc:
        return f"no PostgreSQL server at {url.render_as_string(hide_password=True)}: {str(exc).strip()}"
    return None


def test_two_workers_share_one_postgresql_study(files, tmp_path):
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    name = f"wave-network-test-{uuid.uuid4().hex[:12]}"
    try:
        # an odd budget for two workers: both can ask for the last trial at once, and the study must not overshoot
        run_two_workers(files, tmp_path, POSTGRES_URL, name, n_trials=3)
        check_shared_study(load(name, POSTGRES_URL), 3)
    finally:
        try:
            optuna.delete_study(study_name=name, storage=POSTGRES_URL)
        except KeyError:  # the workers failed before creating it
            pass


@pytest.mark.parametrize(
    ("space", "message"),
    [
        (
            {"model.hiden_size": {"choices": [16, 32]}},
            r"model\.hiden_size is not a field; did you mean 'model.hidden_size'",
        ),
        ({"train.learning_rat": {"low": 1e-4, "high": 1e-2}}, r"did you mean 'train.learning_rate'"),
        ({"data.lr": {"low": 1e-4, "high": 1e-2}}, r"data\.lr is not a field; did you mean 'train.lr'"),
        ({"train.learning_rate": {"low": 1e-2, "high": 1e-4}}, r"train\.learning_rate: low .* must be below high"),
        ({"train.learning_rate": {"low": 0.0, "high": 1e-2, "log": True}}, "a log range needs low > 0"),
        ({"train.learning_rate": {"lo": 1e-4, "high": 1e-2}}, "unknown key 'lo'; did you mean 'low'"),
        ({"model.dropout": {"low": 0.0, "high": 1.5}}, r"model\.dropout=1\.5 makes an invalid configuration"),
        ({"train.batch_size": {"choices": []}}, "choices must be a non-empty list"),
    ],
)
def test_a_bad_space_is_refused_before_any_trial(space, message, tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    with pytest.raises(ConfigFileError, match=message) as error:
        tune(TuneConfig(space=path, base=BASE, n_trials=1, output_dir=tmp_path / "study"))
    assert str(path) in str(error.value)
    assert not (tmp_path / "study").exists()  # refused before the study or any run directory was made


def test_space_types_and_names():
    empty = {s: {} for s in config_files.SECTIONS}
    space = load_space(
        {
            "train.lr": {"low": 1e-4, "high": 1e-2, "log": True},  # the alias is resolved
            "hidden_size": {"choices": [16, 32]},  # a bare name is a model field, as with --set
            "model.num_layers": {"low": 1, "high": 3},  # integer bounds: an int range
            "train.weight_decay": {"low": 0, "high": 1, "type": "float"},
            "model.ffn_dim": {"low": 16, "high": 64, "step": 16},
        },
        empty,
    )
    kinds = {name: (p.kind, p.low, p.high, p.step) for name, p in space.items()}
    assert kinds == {
        "train.learning_rate": ("float", 1e-4, 1e-2, None),
        "model.hidden_size": ("categorical", None, None, None),
        "model.num_layers": ("int", 1, 3, None),
        "train.weight_decay": ("float", 0.0, 1.0, None),
        "model.ffn_dim": ("int", 16, 64, 16),
    }
    with pytest.raises(ConfigFileError, match="train.lr and another key both name train.learning_rate"):
        load_space({"train.learning_rate": {"choices": [1e-3]}, "train.lr": {"choices": [1e-2]}}, empty)
    with pytest.raises(ValueError, match="TuneConfig.metric='test_accuracy'"):
        TuneConfig(space={}, metric="test_accuracy")  # selection never looks at the test split


@pytest.mark.parametrize("model", ["transformer-1layer", "fnet", "paper-modulation"])
def test_the_shipped_search_spaces_load(model):
    spaces = Path(__file__).resolve().parents[1] / "benchmarks" / "spaces"
    base = config_files.apply(config_files.load_file(spaces / "lr_base.yaml"), {"model.name": model})
    assert list(load_space(spaces / "lr.yaml", base)) == ["train.learning_rate"]
    if model.startswith("paper-"):
        assert "model.dropout" in load_space(spaces / "wave.yaml", base)


def test_without_optuna_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'wave-network\[tune\]'"):
        tune(TuneConfig(space=SPACE, base=BASE))
