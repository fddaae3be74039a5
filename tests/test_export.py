"""ONNX export (``wave_network.export``) of tiny untrained Wave models: the graph computes what the model computes
(fp32 logits within 1e-4) at batch sizes and lengths it was not traced at, int8 quantisation reports its
agreement, ``OnnxModel`` stands in for the PyTorch model, the CLI command works, and bad input is a clear error."""

import json
import sys

import pytest
import torch
from typer.testing import CliRunner

NO_EXTRA = "the onnx extra is not installed: pip install 'wave-network[onnx]'"
onnx = pytest.importorskip("onnx", reason=NO_EXTRA)
pytest.importorskip("onnxruntime", reason=NO_EXTRA)
pytest.importorskip("onnxscript", reason=NO_EXTRA)

from wave_network import TextClassifier, create_model, ops  # noqa: E402
from wave_network.cli import app  # noqa: E402
from wave_network.data import get_tokenizer  # noqa: E402
from wave_network.export import (  # noqa: E402
    FP32_TOLERANCE,
    ExportParityError,
    OnnxModel,
    bundled_parity_set,
    export_onnx,
    is_onnx_dir,
)
from wave_network.training.inference import load_model, predict_logits  # noqa: E402

LABELS = ("World", "Sports", "Business", "Sci/Tech")
MAX_LENGTH = 48
TEXTS, NAMES = bundled_parity_set(12)
runner = CliRunner()


def save_tiny(name, directory):
    """An untrained ``name`` at width 64 with AG News's labels, saved with the bundled tokenizer (max length 48).
    Weights spread wider than at initialisation and non-zero biases, so the logits differ between texts and a
    padding leak would show; wave-nb's wide path counts its ratios on real texts and gets non-zero weights."""
    torch.manual_seed(0)
    tokenizer = get_tokenizer()
    tokenizer.model_max_length = MAX_LENGTH
    fields = dict(hidden_size=64, ffn_dim=64, max_position_embeddings=64, initializer_range=0.3, dropout=0.1)
    if name == "wave-nb":
        fields["bag_buckets"] = 4099
    labels = dict(id2label=dict(enumerate(LABELS)), label2id={n: i for i, n in enumerate(LABELS)})
    model = create_model(name, num_labels=len(LABELS), vocab_size=len(tokenizer), **fields, **labels)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith("bias"):
                p.normal_(0, 0.5)
    if model.ngram_bag is not None:
        texts, names = bundled_parity_set(200)
        model.fit_text_statistics(tokenizer(texts)["input_ids"], torch.tensor([LABELS.index(n) for n in names]))
        with torch.no_grad():
            model.ngram_bag.weights.weight.normal_(0, 0.3)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module", autouse=True)
def eager_kernels():
    """The PyTorch side runs its fused kernels eagerly: compiling them would cost more than the whole export, and
    ``tests/test_ops.py`` checks that compiled and eager kernels agree."""
    before = ops.compile_enabled()
    ops.set_compile(False)
    yield
    ops.set_compile(before)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, eager_kernels):
    """name -> (model directory, export directory, report): two presets through ``export_onnx``, the third
    through the CLI (``wave-network export``), each with int8."""
    root = tmp_path_factory.mktemp("export")
    out = {}
    for name in ("paper-modulation", "wave-nb"):
        source = save_tiny(name, root / name)
        target = root / f"{name}-onnx"
        report = export_onnx(source, target, quantize="int8", parity_texts=TEXTS, parity_labels=NAMES)
        out[name] = (source, target, report)
    source = save_tiny("paper-interference", root / "paper-interference")
    target = root / "paper-interference-onnx"
    result = runner.invoke(app, ["export", str(source), "--format", "onnx", "--quantize", "int8", "-o", str(target)])
    assert result.exit_code == 0, result.output
    out["paper-interference"] = (source, target, json.loads((target / "export_report.json").read_text()))
    out["cli output"] = result.output
    return out


PRESETS = ["paper-modulation", "paper-interference", "wave-nb"]


def pytorch_and_onnx(exported, name):
    source, target, _ = exported[name]
    model, tokenizer = load_model(source)
    return model, tokenizer, OnnxModel(target, num_threads=1)


@pytest.mark.parametrize("name", PRESETS)
def test_export_report_passes_at_batch_one_and_in_mixed_length_batches(exported, name):
    _, target, report = exported[name]
    assert report["passed"] and report["max_abs_logit_diff"] <= FP32_TOLERANCE
    assert report == json.loads((target / "export_report.json").read_text())
    single = [p for p in report["parity"] if p["batch_size"] == 1]
    mixed = [p for p in report["parity"] if p["batch_size"] > 1 and p["padded_texts"] > 0]
    assert single and mixed, report["parity"]  # one text at a time, and batches that pad short texts to long ones
    assert all(p["max_abs_logit_diff"] <= FP32_TOLERANCE for p in report["parity"])
    assert report["opset"] >= 17 and report["inputs"] == ["input_ids", "attention_mask"]
    assert report["texts_checked"] == (48 if name == "paper-interference" else len(TEXTS))


@pytest.mark.parametrize("name", PRESETS)
def test_onnx_logits_equal_pytorchs_at_unseen_batch_sizes_and_lengths(exported, name):
    """Traced on a batch of 2, the graph takes 1, 3 and 10 texts of 3 to 48 tokens, padded or not."""
    model, tokenizer, onnx_model = pytorch_and_onnx(exported, name)
    g = torch.Generator().manual_seed(1)
    for B, T in ((1, 5), (3, 13), (10, 3), (3, MAX_LENGTH)):
        ids = torch.randint(1000, len(tokenizer), (B, T), generator=g)
        mask = torch.ones(B, T, dtype=torch.long)
        mask[-1, max(2, T // 2) :] = 0  # a padded text (a one-text batch is that text alone)
        ids = ids * mask
        with torch.no_grad():
            expected = model(input_ids=ids, attention_mask=mask).logits
        got = onnx_model(input_ids=ids, attention_mask=mask).logits
        assert got.dtype == torch.float32 and got.shape == (B, len(LABELS))
        assert (got - expected).abs().max() <= FP32_TOLERANCE, (B, T)


def test_graph_axes_are_symbolic(exported):
    graph = onnx.load(str(exported["paper-modulation"][1] / "model.onnx"), load_external_data=False).graph
    for tensor in graph.input:
        assert [d.dim_param for d in tensor.type.tensor_type.shape.dim] == ["batch", "sequence"], tensor.name
    assert graph.output[0].name == "logits"
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"


@pytest.mark.parametrize("name", PRESETS)
def test_int8_export_reports_agreement_and_accuracy(exported, name):
    _, target, report = exported[name]
    assert (target / "model.int8.onnx").stat().st_size == report["int8_bytes"] < report["fp32_bytes"] / 2
    assert 0.5 <= report["int8_argmax_agreement"] <= 1.0  # 4 classes: chance agreement is far lower
    assert report["int8_max_abs_logit_diff"] > 0  # it is quantised
    for key in ("fp32_accuracy", "int8_accuracy"):  # labels given, or AG News's by default (the CLI's case)
        assert 0.0 <= report[key] <= 1.0
    quantized = OnnxModel(target, quantized=True, num_threads=1)
    assert quantized(input_ids=torch.tensor([[101, 2000, 102]])).logits.shape == (1, len(LABELS))


def test_onnx_model_stands_in_for_the_pytorch_model(exported):
    """Its config, tokenizer and ``predict_logits`` (which sorts, batches and pads) match the saved model's."""
    model, tokenizer, onnx_model = pytorch_and_onnx(exported, "wave-nb")
    assert onnx_model.config.id2label == model.config.id2label
    assert onnx_model.config.problem_type == model.config.problem_type
    assert onnx_model.config.bag_weighting == "nb" and onnx_model.config.export_max_length == MAX_LENGTH
    assert onnx_model.tokenizer.model_max_length == MAX_LENGTH
    texts = [*TEXTS, "Oil prices rise", "a long text " * 40]
    got = predict_logits(onnx_model, onnx_model.tokenizer, texts, batch_size=5)
    expected = predict_logits(model, tokenizer, texts, batch_size=5)
    assert (got - expected).abs().max() <= FP32_TOLERANCE
    source, target, _ = exported["wave-nb"]
    assert is_onnx_dir(target) and not is_onnx_dir(source)


def test_cli_prints_the_parity_report(exported):
    output = exported["cli output"]
    assert "max |logit diff|" in output and "int8 argmax agreement" in output and "export_report.json" in output


def test_not_a_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither a saved model directory"):
        export_onnx(tmp_path, tmp_path / "out")
    result = runner.invoke(app, ["export", str(tmp_path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "neither a saved model directory" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    with pytest.raises(FileNotFoundError, match="not an ONNX export"):
        OnnxModel(tmp_path)
    result = runner.invoke(app, ["export", str(tmp_path), "--format", "tflite", "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "onnx" in result.output


def test_bad_options_are_clear_errors(exported, tmp_path):
    source, target, _ = exported["paper-modulation"]
    with pytest.raises(ValueError, match="quantize='int4'"):
        export_onnx(source, tmp_path, quantize="int4")
    with pytest.raises(ValueError, match="2 labels for 12"):
        export_onnx(source, tmp_path, parity_texts=TEXTS, parity_labels=["World", "Sports"])
    with pytest.raises(ValueError, match="is the model directory"):
        export_onnx(source, source)


def test_a_graph_that_computes_something_else_fails_the_parity_check(exported, tmp_path, monkeypatch):
    """wave-nb's graph written for paper-modulation (same inputs, other weights) is caught, and the report stays."""
    import shutil

    from wave_network import export

    wrong = exported["wave-nb"][1] / "model.onnx"
    monkeypatch.setattr(export, "_export_graph", lambda model, example, path, *args: shutil.copy(wrong, path))
    with pytest.raises(ExportParityError, match="differ from PyTorch's"):
        export_onnx(exported["paper-modulation"][0], tmp_path, parity_texts=TEXTS[:3])
    assert json.loads((tmp_path / "export_report.json").read_text())["passed"] is False


def test_without_the_onnx_extra_the_error_says_how_to_install_it(exported, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'wave-network\[onnx\]'"):
        export_onnx(exported["paper-modulation"][0], tmp_path)
    with pytest.raises(ImportError, match="onnx extra"):
        OnnxModel(exported["paper-modulation"][1])


def test_predict_evaluate_and_the_python_api_run_on_onnxruntime(exported, tmp_path):
    """``--backend onnx`` / ``onnx-int8`` and ``TextClassifier.load(..., backend=...)`` on an export directory."""
    source, target, _ = exported["paper-modulation"]
    torch_clf = TextClassifier.load(source, device="cpu")
    onnx_clf = TextClassifier.load(target, backend="onnx")
    assert onnx_clf.classes_ == torch_clf.classes_
    assert abs(onnx_clf.predict_proba(TEXTS) - torch_clf.predict_proba(TEXTS)).max() <= FP32_TOLERANCE
    assert TextClassifier.load(target, backend="onnx-int8").predict_proba(TEXTS).shape == (len(TEXTS), 4)
    result = runner.invoke(app, ["predict", str(target), "--backend", "onnx-int8", *TEXTS[:2]])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["label"] in onnx_clf.classes_ for line in result.stdout.splitlines()] == [True, True]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps({"text": t, "label": n}) + "\n" for t, n in zip(TEXTS, NAMES, strict=True)))
    result = runner.invoke(app, ["evaluate", str(target), "--backend", "onnx", "--test-file", str(path)])
    assert result.exit_code == 0, result.output
