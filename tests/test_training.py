"""The training loop end to end on a real (bundled) AG News sample with a tiny Wave Network: it learns, writes
its run directory, stops early, refuses NaNs, and resumes exactly after an interruption."""

import json
import math
from dataclasses import replace

import datasets
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from wave_network import registry
from wave_network.data import DataConfig, load_splits
from wave_network.modeling_wave import WaveForSequenceClassification
from wave_network.reporting import report_run
from wave_network.training import Callback, NonFiniteLossError, TrainConfig, evaluate, predict, train
from wave_network.training.environment import resolve_precision

# A Wave Network small enough for 2 CPU cores. Embedding std 0.1, not nn.Embedding's 1.0: at width 16 the
# paper's N(0, 1) tables left the modulation model at chance after 3 epochs on this data (0.1: about 0.5).
TINY = {"hidden_size": 16, "ffn_dim": 16, "embedding_init_std": 0.1, "max_position_embeddings": 64}
LABELS = ["World", "Sports", "Business", "Sci/Tech"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("data_cache"))


def tiny_config(output_dir, cache_dir, *, train_samples=320, overrides=None, **fields):
    data = DataConfig(
        dataset="ag_news_sample",
        max_length=32,
        max_train_samples=train_samples,
        max_eval_samples=160,
        cache_dir=cache_dir,
    )
    values = dict(
        model="paper-modulation",
        model_overrides=TINY | {"dropout": 0.0} | (overrides or {}),
        data=data,
        learning_rate=1e-2,
        epochs=2,
        batch_size=32,
        precision="fp32",
        num_threads=1,
        log_every=5,
        quiet=True,
        output_dir=str(output_dir),
    )
    return TrainConfig(**(values | fields))


@pytest.fixture(scope="module")
def learned_run(tmp_path_factory, cache_dir):
    """One run that should learn: 1,600 real AG News examples, 3 epochs, bf16 autocast where the CPU has
    it."""
    out = tmp_path_factory.mktemp("learned") / "run"
    cfg = tiny_config(
        out,
        cache_dir,
        train_samples=1600,
        overrides={"hidden_size": 32, "ffn_dim": 32, "pooling": "mean"},
        epochs=3,
        precision="auto",
    )
    return train(cfg)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tiny_run_learns_a_real_signal(learned_run):
    records = read_jsonl(learned_run.run_dir / "metrics.jsonl")
    epochs = [r for r in records if r["type"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] - 0.1
    assert learned_run.metrics["val_accuracy"] > 0.45  # chance is 0.25 on four balanced classes
    assert learned_run.metrics["test_accuracy"] > 0.4
    assert learned_run.stop_reason == "completed"


def test_run_directory_is_the_full_record(learned_run):
    run = learned_run.run_dir
    for name in ("config.json", "metrics.jsonl", "results.json"):
        assert (run / name).is_file(), name
    assert not list(run.glob("*.png"))  # training writes records; figures are drawn from them afterwards
    written = report_run(run)
    assert [p.name for p in written] == ["training_curves.png", "confusion_matrix.png"]
    for name in ("training_curves.png", "confusion_matrix.png"):
        assert Image.open(run / name).size[0] > 100
    results = json.loads((run / "results.json").read_text())
    assert results["model"] == "paper-modulation" and results["dataset"] == "ag_news_sample"
    assert results["seed"] == 42 and isinstance(results["command"], list)
    for key in (
        "test_accuracy",
        "test_f1_macro",
        "test_f1_weighted",
        "test_precision_macro",
        "test_recall_macro",
    ):
        assert 0 <= results["metrics"][key] <= 1, key
    assert results["metrics"]["val_accuracy"] == learned_run.best_metric
    assert sum(map(sum, results["metrics"]["test_confusion_matrix"])) == 160
    assert results["selection"]["split"] == "validation"
    res = results["resources"]
    assert res["parameters"]["non_embedding"] + res["parameters"]["embedding"] == res["parameters"]["total"]
    assert res["peak_memory_mb"] > 0 and res["train_tokens_per_s"] > 0 and res["eval_tokens_per_s"] > 0
    assert len(res["epoch_times_s"]) == 3
    assert set(results["versions"]) >= {"python", "torch", "transformers", "datasets"}
    assert results["precision"] == ("bf16" if resolve_precision("auto", torch.device("cpu")) else "fp32")
    assert "git_commit" in results and results["device"].startswith("cpu")
    assert results["dataset_provenance"]
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["learning_rate"] == 1e-2 and config["model_config"]["hidden_size"] == 32
    assert config["model_config"]["id2label"] == {str(i): name for i, name in enumerate(LABELS)}
    steps = [r for r in read_jsonl(run / "metrics.jsonl") if r["type"] == "step"]
    assert steps and all(r["step"] % 5 == 0 and r["lr"] > 0 for r in steps)


def test_best_checkpoint_alone_serves_evaluate_and_predict(learned_run, cache_dir):
    best = learned_run.run_dir / "best"
    assert (best / "model.safetensors").is_file() and (best / "tokenizer_config.json").is_file()
    data = DataConfig(
        dataset="ag_news_sample",
        max_length=32,
        max_train_samples=1600,
        max_eval_samples=160,
        cache_dir=cache_dir,
    )
    metrics = evaluate(learned_run.run_dir, data, split="test", batch_size=64, precision="bf16", quiet=True)
    assert metrics["test_accuracy"] == pytest.approx(learned_run.metrics["test_accuracy"], abs=1e-9)
    texts = ["The team won the championship final on Sunday", "Stocks fell as oil prices rose"]
    preds = predict(best, texts, batch_size=1, device="cpu")
    assert len(preds) == 2
    for p in preds:
        assert p["label"] == LABELS[p["label_id"]]
        assert set(p["probabilities"]) == set(LABELS)
        assert sum(p["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


def test_batched_prediction_sorts_by_length_and_keeps_the_input_order(learned_run):
    """predict_logits batches texts of similar length (a window at a time) and returns the logits in input order,
    equal to predicting each text alone."""
    from wave_network.training.inference import load_model, predict_logits

    model, tokenizer = load_model(learned_run.run_dir, "cpu")
    texts = ["Stocks fell", "The team won the championship final on Sunday after extra time", "Oil", "", "a b c"] * 3
    batched = predict_logits(model, tokenizer, texts, batch_size=4, window=2)
    alone = torch.cat([predict_logits(model, tokenizer, [t], batch_size=1) for t in texts])
    assert batched.shape == (len(texts), len(LABELS))
    torch.testing.assert_close(batched, alone, rtol=1e-4, atol=1e-5)


def test_early_stopping_stops_when_validation_stops_improving(tmp_path, cache_dir):
    # With a vanishing learning rate the validation accuracy never beats the first validation.
    cfg = tiny_config(tmp_path / "run", cache_dir, learning_rate=1e-12, epochs=6, early_stopping_patience=2)
    result = train(cfg)
    epochs = [r for r in read_jsonl(result.run_dir / "metrics.jsonl") if r["type"] == "epoch"]
    assert result.stop_reason == "early_stopping"
    assert [r["epoch"] for r in epochs] == [1, 2, 3]
    assert result.best_epoch == 1


class CountValidations(Callback):
    def __init__(self):
        self.steps = []

    def on_evaluate(self, ctx, metrics, improved):
        self.steps.append(ctx.state.global_step)


def test_step_level_validation_does_not_repeat_at_the_epoch_end(tmp_path, cache_dir):
    counter = CountValidations()
    train(tiny_config(tmp_path / "run", cache_dir, epochs=1, eval_every_steps=5), callbacks=[counter])
    assert counter.steps == [5, 10]  # the epoch ends at step 10 and reuses that validation
    records = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in records if r["type"] == "eval"] == [5, 10]
    epoch = next(r for r in records if r["type"] == "epoch")
    assert epoch["val_accuracy"] == next(r for r in records if r["type"] == "eval" and r["step"] == 10)["val_accuracy"]


class NaNLossAtStep3(WaveForSequenceClassification):
    calls = 0

    def compute_loss(self, logits, labels):
        loss = super().compute_loss(logits, labels)
        type(self).calls += 1
        return loss * float("nan") if type(self).calls >= 3 else loss


def test_non_finite_loss_stops_with_a_clear_error(tmp_path, cache_dir, monkeypatch):
    def build(num_labels, vocab_size, max_length=None, **overrides):
        config = registry.wave_config_from_preset(
            "paper-modulation", num_labels=num_labels, vocab_size=vocab_size, **overrides
        )
        return NaNLossAtStep3(config)

    monkeypatch.setitem(registry._SPECS, "nan-at-step-3", registry.ModelSpec("nan-at-step-3", build))
    monkeypatch.setattr(NaNLossAtStep3, "calls", 0)
    cfg = tiny_config(tmp_path / "run", cache_dir, model="nan-at-step-3", epochs=1)
    with pytest.raises(NonFiniteLossError, match=r"step 3, epoch 1.*learning_rate.*fp32") as info:
        train(cfg)
    assert info.value.step == 3
    last = read_jsonl(tmp_path / "run" / "metrics.jsonl")[-1]
    assert last["type"] == "error" and last["step"] == 3


class ClassPriorConfig(PretrainedConfig):
    model_type = "test-class-prior"


class ClassPrior(PreTrainedModel):
    """Fitted by counting, without gradients: logits are the log class frequencies of the training data."""

    config_class = ClassPriorConfig

    def __init__(self, config):
        super().__init__(config)
        self.log_prior = torch.nn.Parameter(torch.zeros(config.num_labels), requires_grad=False)
        self.post_init()

    def fit_batches(self, batches):
        counts = sum(torch.bincount(b["labels"], minlength=self.config.num_labels) for b in batches)
        self.log_prior.data = torch.log(counts / counts.sum())

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        logits = self.log_prior.expand(input_ids.shape[0], -1)  # (B, C)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def test_a_model_without_gradients_is_fitted_by_its_own_fit_function(tmp_path, cache_dir, monkeypatch):
    def build(num_labels, vocab_size, max_length=None, **overrides):  # the tiny Wave overrides do not apply
        return ClassPrior(ClassPriorConfig(num_labels=num_labels))

    monkeypatch.setitem(registry._SPECS, "class-prior", registry.ModelSpec("class-prior", build))
    result = train(tiny_config(tmp_path / "run", cache_dir, model="class-prior", train_samples=160))
    best = ClassPrior.from_pretrained(result.run_dir / "best")
    prior = best.log_prior.detach().exp()
    assert prior.sum().item() == pytest.approx(1.0)
    assert prior.min().item() > 0.1  # 160 stratified examples of four classes
    records = read_jsonl(result.run_dir / "metrics.jsonl")
    assert [r["type"] for r in records] == ["epoch"] and records[0]["val_accuracy"] is not None
    assert result.metrics["test_accuracy"] > 0 and not (result.run_dir / "last").exists()


class InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, ctx, logs):
        if ctx.state.global_step == self.step:
            raise KeyboardInterrupt


TIMINGS = ("epoch_time_s", "train_tokens_per_s", "val_seconds", "val_tokens_per_s")


SPARSE_NGRAMS = {"ngram_orders": [2, 3], "ngram_buckets": 257, "sparse_embeddings": True}


@pytest.mark.parametrize(
    ("interrupt_step", "extra"),
    [(10, {}), (13, {}), (13, SPARSE_NGRAMS)],
    ids=["after-last-batch-of-epoch-1", "mid-epoch-2", "sparse-ngram-tables-mid-epoch-2"],
)
def test_resume_after_interrupt_reproduces_the_uninterrupted_run(tmp_path, cache_dir, interrupt_step, extra):
    # 320 examples / 32 = 10 steps per epoch; dropout on, so the restored RNG state matters. The sparse case
    # also restores both halves of HybridAdam (AdamW and the lazy Adam of the embedding tables).
    kwargs = dict(overrides={"dropout": 0.1} | extra, deterministic=True, epochs=2, log_every=3)
    full = train(tiny_config(tmp_path / "full", cache_dir, **kwargs))
    cfg = tiny_config(tmp_path / "cut", cache_dir, **kwargs)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, callbacks=[InterruptAt(interrupt_step)])
    state = torch.load(tmp_path / "cut" / "last" / "trainer_state.pt", weights_only=True)
    assert state["loop"]["global_step"] == interrupt_step
    resumed = train(tiny_config(tmp_path / "cut", cache_dir, resume=True, **kwargs))

    for sub in ("last", "best"):
        a = load_file(full.run_dir / sub / "model.safetensors")
        b = load_file(resumed.run_dir / sub / "model.safetensors")
        assert a.keys() == b.keys()
        for name in a:
            assert torch.equal(a[name], b[name]), f"{sub}/{name}"
    assert resumed.metrics["test_loss"] == full.metrics["test_loss"]

    def strip(records):
        return [{k: v for k, v in r.items() if k not in TIMINGS} for r in records]

    assert strip(read_jsonl(resumed.run_dir / "metrics.jsonl")) == strip(read_jsonl(full.run_dir / "metrics.jsonl"))


def test_new_run_refuses_a_directory_that_holds_a_run(learned_run, tmp_path, cache_dir):
    with pytest.raises(FileExistsError, match="resume=True"):
        train(tiny_config(learned_run.run_dir, cache_dir))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(tiny_config(tmp_path / "empty", cache_dir, resume=True))


def test_regression_runs_select_on_validation_loss_and_predict_scores(tmp_path, cache_dir):
    # Real AG News texts with a made-up, learnable target: the share of the letter "e" in the text.
    news = load_splits(
        DataConfig(dataset="ag_news_sample", max_train_samples=160, max_eval_samples=40, cache_dir=cache_dir)
    )
    for name, split in (("train.csv", news.train), ("test.csv", news.test)):
        texts = list(split["text"])
        frame = {"text": texts, "label": [t.count("e") / len(t) for t in texts]}
        datasets.Dataset.from_dict(frame).to_csv(tmp_path / name, index=False)
    data = DataConfig(
        dataset="letters",
        train_file=str(tmp_path / "train.csv"),
        test_file=str(tmp_path / "test.csv"),
        max_length=16,
        cache_dir=cache_dir,
    )
    result = train(replace(tiny_config(tmp_path / "run", cache_dir, epochs=2), data=data))
    assert result.monitor == "val_loss" and result.results["selection"]["mode"] == "min"
    assert result.results["problem_type"] == "regression"
    assert {"val_mse", "val_pearson", "test_mse", "test_spearman"} <= set(result.metrics)
    assert "test_accuracy" not in result.metrics
    assert [p.name for p in report_run(result.run_dir)] == ["training_curves.png"]  # no confusion matrix
    [pred] = predict(result.run_dir, ["a short sentence"], device="cpu")
    assert pred["label"] is None and isinstance(pred["score"], float)


def test_sentence_pairs_give_the_wave_model_segment_embeddings(tmp_path, cache_dir):
    rows = ["premise,hypothesis,label"] + [
        f"the cat sat on mat {i},{'a cat sat' if i % 2 else 'dogs run fast'} {i},{i % 2}" for i in range(80)
    ]
    (tmp_path / "pairs.csv").write_text("\n".join(rows) + "\n")
    data = DataConfig(train_file=str(tmp_path / "pairs.csv"), text_columns=("premise", "hypothesis"),
                      label_column="label", max_length=32, cache_dir=cache_dir)  # fmt: skip
    overrides = TINY | {"global_semantics": "segment"}
    cfg = tiny_config(tmp_path / "run", cache_dir, data=data, model_overrides=overrides, epochs=1)
    result = train(cfg)
    config = json.loads((result.run_dir / "config.json").read_text())["model_config"]
    assert config["type_vocab_size"] == 2 and config["global_semantics"] == "segment"
    assert math.isfinite(result.metrics["test_loss"]) and "test_mcc" in result.metrics


class RecordFirstStep(Callback):
    """The first step's batch, the weights it started from and the loss it computed."""

    def on_step_begin(self, ctx, batch):
        if ctx.state.global_step == 0:
            self.batch = {k: v.clone() for k, v in batch.items()}
            self.weights = {k: v.detach().clone() for k, v in ctx.model.state_dict().items()}

    def on_after_backward(self, ctx, batch):
        if ctx.state.global_step == 0:
            self.loss = ctx.step_loss.item()


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_label_smoothing_trains_on_the_smoothed_cross_entropy(tmp_path, cache_dir, smoothing):
    from wave_network.training.evaluation import MODEL_INPUTS

    spy = RecordFirstStep()
    result = train(tiny_config(tmp_path / "run", cache_dir, label_smoothing=smoothing, max_steps=1), callbacks=[spy])
    model = WaveForSequenceClassification.from_pretrained(result.run_dir / "last")
    model.load_state_dict(spy.weights)
    model.train()  # dropout is 0 in tiny_config: train mode is deterministic
    batch = {k: v for k, v in spy.batch.items() if k in MODEL_INPUTS}
    with torch.no_grad():
        log_p = torch.log_softmax(model(**batch).logits.float(), -1)
    labels = spy.batch["labels"]
    nll = -log_p.gather(1, labels[:, None]).squeeze(1)  # (B,)
    uniform = -log_p.mean(1)  # (B,) cross-entropy against the uniform distribution
    want = ((1 - smoothing) * nll + smoothing * uniform).mean().item()
    assert spy.loss == pytest.approx(want, rel=1e-4)
    assert json.loads((result.run_dir / "config.json").read_text())["train"]["label_smoothing"] == smoothing


def test_allocator_tuning_is_opt_in_and_huge_pages_are_on_by_default():
    """Importing wave_network asks PyTorch for transparent huge pages (unless the user set it); malloc reuse is
    set only with WAVE_NETWORK_MALLOC=reuse, each checked in a fresh process."""
    import os
    import subprocess
    import sys

    code = (
        "import os, wave_network; from wave_network.training.environment import tune_allocator; "
        "print(os.environ['THP_MEM_ALLOC_ENABLE'], tune_allocator(), os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    )
    unset = ("WAVE_NETWORK_MALLOC", "THP_MEM_ALLOC_ENABLE", "ONEDNN_PRIMITIVE_CACHE_CAPACITY")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert plain.stdout.split() == ["1", "False", "128"]
    reuse = subprocess.run(
        [sys.executable, "-c", code],
        env=env | {"WAVE_NETWORK_MALLOC": "reuse", "THP_MEM_ALLOC_ENABLE": "0", "ONEDNN_PRIMITIVE_CACHE_CAPACITY": "7"},
        capture_output=True,
        text=True,
        check=True,
    )
    expected = "True" if sys.platform.startswith("linux") else "False"
    assert reuse.stdout.split() == ["0", expected, "7"]


def test_release_free_memory_trims_the_heap_and_leaves_reuse_alone(monkeypatch):
    """After a CPU step the loop hands the C heap's free pages back (glibc malloc_trim) once enough of it is free,
    never when the user asked malloc to keep them (WAVE_NETWORK_MALLOC=reuse)."""
    from wave_network.training import environment

    calls = []
    free = [0]

    class FakeLibc:
        def malloc_trim(self, pad):
            calls.append(pad)

        def mallinfo2(self):
            return environment._MallInfo2(fordblks=free[0])

    monkeypatch.setattr(environment, "_LIBC", [FakeLibc()])
    monkeypatch.setattr(environment, "_ALLOCATOR_TUNED", {"done": False})
    free[0] = environment.TRIM_ABOVE_BYTES  # not worth a trim (each costs page faults in the next step)
    assert not environment.release_free_memory() and calls == []
    free[0] = environment.TRIM_ABOVE_BYTES + 1
    assert environment.release_free_memory() and calls == [0]
    monkeypatch.setattr(environment, "_ALLOCATOR_TUNED", {"done": True})
    assert not environment.release_free_memory() and calls == [0]
