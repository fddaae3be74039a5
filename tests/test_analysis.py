"""The follow-up paper's analyses: the gradient recorder against independent autograd computations and the float64
paper reference, the eigenvalue statistics against NumPy, the complexity measurements, and each analysis end to
end through the one training loop on the bundled AG News sample."""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from wave_network import create_model, ops
from wave_network.analysis import (
    ComplexityConfig,
    GradientRecorder,
    IndependenceConfig,
    TrainingAnalysisConfig,
    analyze_complexity,
    analyze_convergence,
    analyze_gradients,
    analyze_independence,
    hold_global_semantics,
)
from wave_network.analysis.complexity import fit_slope, measure_point
from wave_network.analysis.independence import covariance_spectrum, independence_statistics, spectrum_statistics
from wave_network.cli import app
from wave_network.data import DataConfig
from wave_network.training.distributed import DistInfo
from wave_reference import reference_global_semantics, reference_token2wave

B, T, D, V, C = 3, 7, 12, 50, 3
TINY = {"hidden_size": 16, "ffn_dim": 16, "embedding_init_std": 0.1, "max_position_embeddings": 64}


def test_holding_global_semantics_leaves_the_phase_path_of_the_paper_reference():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(B, T, D, dtype=torch.float64, generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 4:] = 0
    a, b = torch.randn(B, T, D, dtype=torch.float64, generator=g), torch.randn(B, T, D, dtype=torch.float64)
    keep = mask.unsqueeze(-1).double()

    def loss_ops(w, hold):
        re, im = ops.token2wave(w, mask, hold_global=hold)
        return ((a * re + b * im) * keep).sum()

    def loss_ref(w, hold):
        g_ref = reference_global_semantics(w, mask)
        z = reference_token2wave(w, mask, g_ref.detach() if hold else None)
        return ((a * z.real + b * z.imag) * keep).sum()

    for hold in (False, True):
        w1, w2 = w.clone().requires_grad_(), w.clone().requires_grad_()
        (g_ops,) = torch.autograd.grad(loss_ops(w1, hold), w1)
        (g_ref,) = torch.autograd.grad(loss_ref(w2, hold), w2)
        torch.testing.assert_close(g_ops * keep, g_ref * keep, rtol=1e-6, atol=1e-8)
    # holding G changes the gradient (the magnitude path is not zero) but not the values
    w1 = w.clone().requires_grad_()
    (full,) = torch.autograd.grad(loss_ops(w1, False), w1)
    (phase,) = torch.autograd.grad(loss_ops(w1, True), w1)
    assert (full - phase).abs().max() > 1e-3
    torch.testing.assert_close(ops.token2wave(w, mask, hold_global=True)[1], ops.token2wave(w, mask)[1])


def _ctx(model, step=0):
    """The parts of ``LoopContext`` the recorder reads, for driving it by hand."""
    import contextlib

    return SimpleNamespace(
        model=model,
        device=torch.device("cpu"),
        dist=DistInfo(),
        state=SimpleNamespace(global_step=step, epoch=0),
        run_dir=None,
        step_loss=None,
        autocast=contextlib.nullcontext,
    )


def _batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, V, (B, T), generator=g)
    mask = torch.ones(B, T, dtype=torch.long)
    mask[1, 4:] = 0
    ids = ids * mask
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 2, 1])}


def _recorded_step(model, batch):
    recorder = GradientRecorder()
    ctx = _ctx(model)
    recorder.on_train_begin(ctx)
    model.train()
    recorder.on_step_begin(ctx, batch)
    out = model(**batch)
    ctx.step_loss = out.loss.detach()
    out.loss.backward()
    recorder.on_after_backward(ctx, batch)
    recorder.on_close(ctx)
    return recorder.records[0]


def _independent_gradients(model, batch, hold=False):
    """d loss / d token embeddings by feeding the embeddings in as ``inputs_embeds`` (no hooks involved)."""
    embedded = model.get_input_embeddings()(batch["input_ids"]).detach().requires_grad_()
    inputs = {k: v for k, v in batch.items() if k != "input_ids"}
    with hold_global_semantics(model) if hold else torch.enable_grad():
        loss = model(inputs_embeds=embedded, **inputs).loss
    (grad,) = torch.autograd.grad(loss, embedded)
    return grad * batch["attention_mask"].unsqueeze(-1)


@pytest.mark.parametrize("preset", ["paper-modulation", "paper-interference"])
def test_gradient_recorder_matches_independent_autograd_on_wave_models(preset):
    torch.manual_seed(0)
    model = create_model(preset, num_labels=C, vocab_size=V, hidden_size=D, ffn_dim=13, dropout=0.0)
    batch = _batch()
    record = _recorded_step(model, batch)
    grad = _independent_gradients(model, batch)
    assert record["cls_grad_norm"] == pytest.approx(float(grad[:, 0].norm()), rel=1e-5)
    assert record["cls_grad_norm_per_text"] == pytest.approx(float(grad[:, 0].norm(dim=-1).mean()), rel=1e-5)
    assert record["input_grad_norm"] == pytest.approx(float(grad.norm()), rel=1e-5)
    per_text = grad.flatten(1).norm(dim=1).mean()
    assert record["input_grad_norm_per_text"] == pytest.approx(float(per_text), rel=1e-5)
    head = torch.cat([p.grad.flatten() for p in model.classifier.parameters()])
    assert record["classifier_grad_norm"] == pytest.approx(float(head.norm()), rel=1e-5)
    # magnitude + phase = total, and the phase path is the gradient with G held constant
    phase = _independent_gradients(model, batch, hold=True)[:, 0]
    magnitude = grad[:, 0] - phase
    assert record["cls_grad_norm_phase"] == pytest.approx(float(phase.norm()), rel=1e-4)
    assert record["cls_grad_norm_magnitude"] == pytest.approx(float(magnitude.norm()), rel=1e-4)
    m, p = float(magnitude.norm()), float(phase.norm())
    assert record["cls_magnitude_share"] == pytest.approx(m / (m + p), rel=1e-4)
    projection = float((magnitude * grad[:, 0]).sum() / grad[:, 0].norm() ** 2)
    assert record["cls_magnitude_projection"] == pytest.approx(projection, rel=1e-4, abs=1e-6)
    assert 0 < record["cls_magnitude_share"] < 1


def test_gradient_split_replays_the_steps_dropout():
    torch.manual_seed(0)
    model = create_model("paper-modulation", num_labels=C, vocab_size=V, hidden_size=D, ffn_dim=13, dropout=0.5)
    record = _recorded_step(model, _batch())
    # the replay saw the same dropout masks: its loss equals the step's exactly
    assert record["split_loss_gap"] == 0.0


def test_gradient_recorder_on_a_bert_family_model_and_frozen_embeddings():
    torch.manual_seed(0)
    small = dict(hidden_size=16, num_attention_heads=2, intermediate_size=16)
    small |= dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = create_model("transformer-1layer", num_labels=C, vocab_size=V, checkpoint="scratch", **small)
    model.bert.embeddings.word_embeddings.requires_grad_(False)
    batch = _batch(1)
    record = _recorded_step(model, batch)
    assert "cls_magnitude_share" not in record
    grad = _independent_gradients(model, batch)
    assert record["input_grad_norm"] == pytest.approx(float(grad.norm()), rel=1e-5)
    assert record["cls_grad_norm"] > 0


def test_gradient_recorder_refuses_models_without_a_head():
    class Headless(torch.nn.Module):
        def get_input_embeddings(self):
            return torch.nn.Embedding(3, 2)

    with pytest.raises(ValueError, match="classifier"):
        GradientRecorder().on_train_begin(_ctx(Headless()))


def test_covariance_spectrum_matches_numpy():
    x = np.random.default_rng(0).normal(size=(40, 8)) @ np.diag([3, 2, 1, 1, 0.5, 0.5, 0.1, 0.1])
    expected = np.sort(np.linalg.eigvalsh(np.cov(x, rowvar=False)))[::-1]
    np.testing.assert_allclose(covariance_spectrum(x, eps=1e-15), expected, rtol=1e-9)
    # directions with only fp32 rounding noise are not counted
    noisy = np.concatenate([x, x[:, :1] + 1e-9 * np.random.default_rng(1).normal(size=(40, 1))], axis=1)
    assert len(covariance_spectrum(noisy)) == 8
    # fewer texts than dimensions: at most N - 1 non-zero eigenvalues survive
    assert len(covariance_spectrum(x[:5])) == 4


def test_spectrum_statistics_on_a_known_spectrum():
    stats = spectrum_statistics(np.array([4.0, 2.0, 1.0, 1.0]))
    p = np.array([0.5, 0.25, 0.125, 0.125])
    assert stats["largest_over_sum"] == pytest.approx(0.5)
    assert stats["smallest_over_largest"] == pytest.approx(0.25)
    assert stats["effective_rank"] == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert stats["effective_rank_fraction"] == pytest.approx(stats["effective_rank"] / 4)
    isotropic = spectrum_statistics(np.ones(10))
    assert isotropic["effective_rank"] == pytest.approx(10) and isotropic["largest_over_sum"] == pytest.approx(0.1)


def test_independence_statistics_per_batch():
    x = np.random.default_rng(1).normal(size=(100, 6))
    stats = independence_statistics(x, batch_size=32)
    assert len(stats["per_batch"]["largest_over_sum"]) == 3  # the last 4 texts make no full batch
    assert stats["texts"] == 100 and stats["dim"] == 6
    assert 1 / 6 <= stats["overall"]["largest_over_sum"] < 0.5  # near-isotropic data


def test_fit_slope_recovers_powers_over_the_long_end():
    xs = [64, 128, 256, 512, 1024, 2048, 4096]
    assert fit_slope(xs, [1e-3 * x**2 for x in xs]) == pytest.approx(2.0)
    # a constant overhead at short lengths is outside the fitted tail
    assert fit_slope(xs, [1 + 0.01 * x for x in xs]) == pytest.approx(1.0, abs=0.2)
    assert fit_slope([1], [1]) is None


def test_attention_memory_grows_quadratically_and_wave_memory_linearly():
    growth = {}
    for kind in ("wave", "attention", "fnet"):
        small, large = (measure_point(kind, n, 64, min_repeats=1, min_seconds=0.0) for n in (512, 2048))
        assert small["time_ms"] > 0 and small["saved_mb"] > 0
        growth[kind] = large["saved_mb"] / small["saved_mb"]
    assert growth["wave"] < 4.5 and growth["fnet"] < 4.5  # n x4 -> about x4
    assert growth["attention"] > 6  # the n x n map dominates


def test_complexity_config_validates():
    with pytest.raises(ValueError, match="kinds"):
        ComplexityConfig(kinds=["lstm"])
    with pytest.raises(ValueError, match="multiples of 64"):
        ComplexityConfig(widths=[100])


def test_analyze_complexity_writes_its_report(tmp_path):
    # every point runs in its own process (a few seconds each to start): three points
    cfg = ComplexityConfig(kinds=["attention"], lengths=[16, 64], widths=[128], width=64, width_sweep_length=16,
                           min_repeats=1, min_seconds=0.0, num_threads=1)  # fmt: skip
    result = analyze_complexity(cfg, str(tmp_path))
    payload = json.loads(result.json_path.read_text())
    assert len(payload["points"]) == 3 and all("error" not in p for p in payload["points"])
    assert payload["fits"]["attention"]["time_slope"] is not None
    assert payload["fits"]["attention"]["width"]["time_slope"] is None  # one width: nothing to fit
    assert result.plot_path.exists() and "time slope" in result.markdown_path.read_text()


# --- end to end through the one training loop -------------------------------------------------------------------


@pytest.fixture(scope="module")
def analysis_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("analysis")
    data = DataConfig(dataset="ag_news_sample", max_length=32, max_train_samples=200, max_eval_samples=64,
                      cache_dir=str(root / "cache"))  # fmt: skip
    cfg = TrainingAnalysisConfig(
        models=["paper-modulation", "tfidf"],
        data=data,
        output_dir=str(root / "runs"),
        steps=4,
        batch_size=16,
        curve_samples=48,
        every=2,
        model_overrides={"paper-modulation": TINY},
        precision="fp32",
        num_threads=1,
        compile=False,
        quiet=True,
    )
    return root, cfg


def test_analyze_gradients_end_to_end(analysis_dirs):
    root, cfg = analysis_dirs
    result = analyze_gradients(cfg)
    payload = json.loads(result.json_path.read_text())
    wave = payload["models"]["paper-modulation"]
    assert wave["status"] == "ok" and [r["step"] for r in wave["records"]] == [2, 4]
    assert all(r["split_loss_gap"] < 1e-5 for r in wave["records"])
    # a model without gradients is a failed row, not a crash
    assert payload["models"]["tfidf"]["status"] == "failed"
    assert result.plot_path.exists() and "paper-modulation" in result.markdown_path.read_text()
    run = root / "runs" / "gradients" / "ag_news_sample__paper-modulation__seed42"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert sum(r["type"] == "gradients" for r in logged) == 2
    # a finished run with the same set-up is reused, not retrained
    stamp = (run / "results.json").stat().st_mtime_ns
    again = analyze_gradients(cfg)
    assert (run / "results.json").stat().st_mtime_ns == stamp
    reused = again.payload["models"]["paper-modulation"]["records"]
    assert [r["step"] for r in reused] == [2, 4]
    assert [r["cls_grad_norm"] for r in reused] == pytest.approx([r["cls_grad_norm"] for r in wave["records"]])


def test_analyze_convergence_and_independence_end_to_end(analysis_dirs):
    root, cfg = analysis_dirs
    result = analyze_convergence(cfg)
    curve = result.payload["models"]["paper-modulation"]["records"]
    assert [r["step"] for r in curve] == [0, 2, 4] and all(r["examples"] == 48 for r in curve)
    assert result.payload["summary"]["paper-modulation"]["best"] >= curve[0]["accuracy"]
    run = root / "runs" / "convergence" / "ag_news_sample__paper-modulation__seed42"
    ind = analyze_independence(
        IndependenceConfig(runs=[str(run)], data=cfg.data, report_dir=str(root / "ind"), max_texts=40, batch_size=8)
    )
    entry = ind.payload["models"]["paper-modulation"]
    assert entry["status"] == "ok" and entry["texts"] == 40 and entry["dim"] == TINY["hidden_size"]
    assert len(entry["per_batch"]["largest_over_sum"]) == 5
    assert ind.plot_path.exists()


def test_analyze_cli_lists_the_analyses_and_rejects_missing_runs(tmp_path):
    runner = CliRunner()
    out = runner.invoke(app, ["analyze", "--help"])
    assert out.exit_code == 0
    for name in ("gradients", "convergence", "independence", "complexity"):
        assert name in out.output
    out = runner.invoke(app, ["analyze", "independence", str(tmp_path / "nope")])
    assert out.exit_code == 2 and "not a run directory" in out.output
