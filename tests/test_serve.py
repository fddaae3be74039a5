"""``wave-network serve``: the real server on a real socket, a tiny untrained model behind it. Answers equal the
predictor's own, every input limit is a 4xx with its reason, concurrent requests share model batches, and a
failing model answers 500 without stopping the server."""

import importlib
import socket
import sys
import threading
import time
from contextlib import contextmanager

import pytest

pytest.importorskip("fastapi", reason="serving needs the serve extra: pip install 'wave-network[serve]'")
uvicorn = pytest.importorskip("uvicorn", reason="serving needs the serve extra: pip install 'wave-network[serve]'")
httpx = pytest.importorskip("httpx", reason="serving needs the serve extra: pip install 'wave-network[serve]'")

import torch  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from wave_network import TextClassifier, create_model, ops  # noqa: E402
from wave_network.cli import app as cli_app  # noqa: E402
from wave_network.data import get_tokenizer  # noqa: E402
from wave_network.serving import EXTRA_MESSAGE, create_app, serve  # noqa: E402
from wave_network.training.inference import predict_logits  # noqa: E402

LABELS = ["World", "Sports", "Business", "Sci/Tech"]
TEXTS = [
    "Stocks fell sharply on Wall Street",
    "The striker scored twice in the final",
    "A new chip doubles battery life",
    "Leaders met to discuss the ceasefire",
    "Oil prices rose after the report",
    "short",
    "The team lost at home again, its third defeat in a row this season",
]
MAX_LENGTH = 32


@pytest.fixture(scope="module", autouse=True)
def eager_kernels():
    """Eager wave kernels: compiling them would take most of this file's time; test_ops checks both agree."""
    before = ops.compile_enabled()
    ops.set_compile(False)
    yield
    ops.set_compile(before)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """An untrained paper-modulation model with its tokenizer, as ``train`` saves ``best/``."""
    path = tmp_path_factory.mktemp("serve") / "model"
    torch.manual_seed(0)
    model = create_model("paper-modulation", num_labels=4, hidden_size=64, ffn_dim=64, embedding_init_std=0.5)
    tokenizer = get_tokenizer()
    tokenizer.model_max_length = MAX_LENGTH
    # An untrained model gives every text about the same probabilities: spread them, and take away the logits all
    # texts share, so that labels and rankings differ from text to text and a reply out of order would show.
    with torch.no_grad():
        model.eval().classifier.weight.mul_(100)
        model.classifier.bias.sub_(predict_logits(model, tokenizer, TEXTS).mean(dim=0))
    model.config.id2label = dict(enumerate(LABELS))
    model.config.label2id = {name: i for i, name in enumerate(LABELS)}
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def predictor(model_dir):
    return TextClassifier.load(model_dir, device="cpu")


@contextmanager
def running(app):
    """``app`` served by uvicorn on a free port in a background thread; yields an httpx client bound to it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"


@pytest.fixture(scope="module")
def client(predictor):
    # small limits so that each is easy to cross, and a batch smaller than a request so requests get cut
    app = create_app(predictor, max_batch_size=4, max_text_chars=200, max_request_texts=8, batch_wait_ms=1.0)
    with running(app) as client:
        yield client


def assert_same(got: list[dict], want: list[dict]) -> None:
    """Server answers against the predictor's own, up to the float noise of other batch compositions."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g["label"], g["label_id"]) == (w["label"], w["label_id"])
        assert g["probabilities"] == pytest.approx(w["probabilities"], abs=1e-5)
        assert [e["label"] for e in g["top_k"]] == [e["label"] for e in w["top_k"]]
        assert [e["probability"] for e in g["top_k"]] == pytest.approx([e["probability"] for e in w["top_k"]], abs=1e-5)


def test_health_and_labels(client, model_dir):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["labels"] == LABELS
    assert health["model_dir"] == str(model_dir) and health["max_length"] == MAX_LENGTH
    assert health["limits"]["max_request_texts"] == 8
    assert client.get("/labels").json() == {"labels": LABELS}


def test_single_and_batched_predictions_equal_the_predictor(client, predictor):
    reply = client.post("/predict", json={"text": TEXTS[0]})
    assert reply.status_code == 200
    assert_same(reply.json()["predictions"], predictor.records([TEXTS[0]]))
    assert len(reply.json()["predictions"][0]["top_k"]) == 1

    # 7 texts over batches of 4: the request is cut across two model batches and put back in order
    reply = client.post("/predict", json={"texts": TEXTS})
    assert reply.status_code == 200
    got = reply.json()["predictions"]
    assert_same(got, predictor.records(TEXTS))
    assert len({p["label"] for p in got}) > 1


def test_top_k_and_threshold(client, predictor):
    probs = sorted(predictor.records([TEXTS[1]])[0]["probabilities"].values(), reverse=True)
    middle = (probs[1] + probs[2]) / 2  # keeps exactly the two most probable labels
    for k, threshold, size in ((3, 0.0, 3), (4, middle, 2), (1, middle, 1), (9, 0.0, 4), (2, 1.0, 0)):
        reply = client.post("/predict", json={"texts": TEXTS[1:3], "k": k, "threshold": threshold})
        assert reply.status_code == 200, reply.text
        got = reply.json()["predictions"]
        assert_same(got, predictor.records(TEXTS[1:3], k=k, threshold=threshold))
        assert len(got[0]["top_k"]) == size
        assert [e["probability"] for e in got[0]["top_k"]] == pytest.approx(probs[:size], abs=1e-5)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"texts": []}, 422, '"texts" is empty'),
        ({"text": ""}, 422, "text 0 is empty"),
        ({"texts": ["fine", "   "]}, 422, "text 1 is empty"),
        ({"texts": ["fine", "x" * 201]}, 413, "text 1 has 201 characters; this server takes at most 200"),
        ({"texts": ["fine"] * 9}, 413, "9 texts in one request; this server takes at most 8"),
        ({"text": "a", "texts": ["b"]}, 422, 'give either "texts"'),
        ({}, 422, 'give either "texts"'),
        ({"text": "a", "k": 0}, 422, "greater than or equal to 1"),
        ({"text": "a", "threshold": 1.5}, 422, "less than or equal to 1"),
        ({"texts": "not a list"}, 422, "valid list"),
        ({"text": "a", "top": 3}, 422, "Extra inputs are not permitted"),
    ],
)
def test_input_limits_answer_4xx_with_the_reason(client, body, status, message):
    reply = client.post("/predict", json=body)
    assert reply.status_code == status, reply.text
    assert message in str(reply.json()["detail"])


def test_malformed_json_is_422(client):
    reply = client.post("/predict", content=b'{"texts": [', headers={"content-type": "application/json"})
    assert reply.status_code == 422 and "JSON decode error" in reply.text


class CountingPredictor:
    """Wraps a predictor, counting its calls; each call takes at least ``delay`` seconds, like a bigger model, and
    a call on "hold" waits until ``release`` is set."""

    def __init__(self, inner, delay: float = 0.0) -> None:
        self.inner, self.delay = inner, delay
        self.labels, self.max_length, self.model_dir = inner.labels, inner.max_length, inner.model_dir
        self.calls: list[int] = []  # texts per call
        self.release = threading.Event()

    def records(self, texts, k=1, threshold=0.0):
        self.calls.append(len(texts))
        time.sleep(self.delay)
        if "hold" in texts:
            assert self.release.wait(30)
        if any("boom" in t for t in texts):
            raise ValueError("cannot classify boom")
        if any("short" in t for t in texts):
            return []
        records = self.inner.records(texts, k=k, threshold=threshold)
        if any("not a number" in t for t in texts):
            return [{**r, "probabilities": dict.fromkeys(r["probabilities"], float("nan"))} for r in records]
        return records


def fire(client, bodies: list[dict]) -> list[httpx.Response]:
    """``bodies`` posted at once, one thread each."""
    start = threading.Barrier(len(bodies))
    replies: list = [None] * len(bodies)

    def post(i: int) -> None:
        start.wait()
        replies[i] = client.post("/predict", json=bodies[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return replies


def test_concurrent_requests_are_batched_and_answered_correctly(predictor):
    counting = CountingPredictor(predictor, delay=0.05)
    app = create_app(counting, max_batch_size=64, batch_wait_ms=20.0)
    # request i: 1 to 3 texts, its own mix and k, so a reply given to the wrong request would show
    bodies = [{"texts": [TEXTS[(i + j) % 5] for j in range(1 + i % 3)], "k": 1 + i % 4} for i in range(20)]
    with running(app) as client:
        replies = fire(client, bodies)
        stats = client.get("/health").json()["stats"]
    for body, reply in zip(bodies, replies, strict=True):
        assert reply.status_code == 200, reply.text
        assert_same(reply.json()["predictions"], predictor.records(body["texts"], k=body["k"]))
    texts = sum(len(b["texts"]) for b in bodies)
    assert sum(counting.calls) == texts and stats == {"model_calls": len(counting.calls), "texts": texts, "queued": 0}
    assert len(counting.calls) < len(bodies) / 2  # 20 requests in far fewer model batches
    assert max(counting.calls) > 3  # a batch held texts of several requests


def test_a_failing_model_answers_500_and_the_server_keeps_serving(predictor):
    counting = CountingPredictor(predictor)
    with running(create_app(counting, batch_wait_ms=20.0)) as client:
        reply = client.post("/predict", json={"texts": ["a boom here", "fine"]})
        assert reply.status_code == 500 and "prediction failed: ValueError: cannot classify boom" in reply.text
        reply = client.post("/predict", json={"text": "short"})
        assert reply.status_code == 500 and "returned 0 records for 1 texts" in reply.text
        reply = client.post("/predict", json={"text": "not a number"})
        assert reply.status_code == 500 and "non-finite probabilities" in reply.text
        reply = client.post("/predict", json={"text": TEXTS[0]})
        assert reply.status_code == 200
        assert_same(reply.json()["predictions"], predictor.records([TEXTS[0]]))

        # a request that breaks the model fails alone, not the requests that shared its batch: the worker is held
        # on one request while the others queue up, so that they form the next batch together
        held = threading.Thread(target=client.post, args=("/predict",), kwargs={"json": {"text": "hold"}})
        calls = len(counting.calls)
        held.start()
        wait_until(lambda: len(counting.calls) > calls)  # the worker is in the held call
        bodies = [{"text": "boom"}] + [{"text": t} for t in TEXTS[:5]]
        replies = []
        posting = threading.Thread(target=lambda: replies.extend(fire(client, bodies)))
        posting.start()
        wait_until(lambda: client.get("/health").json()["stats"]["queued"] == len(bodies))
        counting.release.set()
        posting.join(30)
        held.join(30)
        assert counting.calls[calls:] == [1, len(bodies)] + [1] * len(bodies)  # held; all six at once; each alone
        assert replies[0].status_code == 500 and "cannot classify boom" in replies[0].text
        for body, reply in zip(bodies[1:], replies[1:], strict=True):
            assert reply.status_code == 200, reply.text
            assert_same(reply.json()["predictions"], predictor.records([body["text"]]))


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_serve_builds_the_app_from_a_model_directory(model_dir, predictor, monkeypatch):
    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(app=app, **kwargs))
    serve(model_dir, host="127.0.0.1", port=8123, device="cpu", max_request_texts=3, log_level="warning")
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 8123)
    with running(seen["app"]) as client:
        assert client.get("/health").json()["limits"]["max_request_texts"] == 3
        reply = client.post("/predict", json={"texts": TEXTS[:3]})
        assert_same(reply.json()["predictions"], predictor.records(TEXTS[:3]))
    with pytest.raises(ValueError, match="max_batch_size=0"):
        serve(model_dir, max_batch_size=0)


runner = CliRunner()


def test_cli_passes_its_flags_to_serve(model_dir, monkeypatch):
    seen = {}
    monkeypatch.setattr("wave_network.serving.serve", lambda model_dir, **kwargs: seen.update(kwargs, dir=model_dir))
    result = runner.invoke(
        cli_app,
        ["serve", str(model_dir), "--port", "9001", "--max-batch-size", "8", "--batch-wait-ms", "5", "--device", "cpu"],
    )
    assert result.exit_code == 0, result.output
    assert seen["dir"] == model_dir and seen["port"] == 9001 and seen["device"] == "cpu"
    assert seen["max_batch_size"] == 8 and seen["batch_wait_ms"] == 5.0 and seen["max_text_chars"] == 20000

    result = runner.invoke(cli_app, ["serve", str(model_dir), "--max-batch-size", "0"])
    assert result.exit_code == 2 and "--max-batch-size" in result.output


def test_cli_errors_are_one_line(tmp_path, monkeypatch):
    result = runner.invoke(cli_app, ["serve", str(tmp_path / "missing")])
    output = " ".join(result.output.split())  # as one line, whatever the terminal width
    assert result.exit_code == 2 and "neither a saved model directory" in output and "Traceback" not in output

    # without the extra: the install command, not an ImportError from deep inside
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delitem(sys.modules, "wave_network.serving")
    with pytest.raises(ImportError, match="serve extra"):
        importlib.import_module("wave_network.serving")
    result = runner.invoke(cli_app, ["serve", str(tmp_path)])
    assert result.exit_code == 2 and EXTRA_MESSAGE in " ".join(result.output.split())
