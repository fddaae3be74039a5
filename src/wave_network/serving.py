"""An HTTP JSON endpoint over a trained classifier (``wave-network serve RUN_DIR``).

    POST /predict  {"texts": ["...", ...], "k": 1, "threshold": 0.0}  or  {"text": "..."}
                   -> {"predictions": [{"label", "label_id", "probabilities", "top_k"}, ...]}  (input order)
    GET  /health   -> {"status": "ok", "labels", "model_dir", "max_length", "limits",
                       "stats": {"model_calls", "texts", "queued"}}
    GET  /labels   -> {"labels": [...]}

Request batching: one forward pass over many texts costs less per text than a pass per text (the per-call work
is shared and the matrix products are larger; on a GPU, far less), so the texts of concurrent requests are
gathered into shared model batches. Each request is a job on a queue; one worker thread takes the
first job, keeps taking jobs for at most ``batch_wait_ms`` (or until ``max_batch_size`` texts), runs the
predictor on the gathered texts and settles every job's future on the event loop. The model thus runs off the
event loop, one batch at a time (no two threads share the model), and a request of more texts than a batch is
cut across consecutive batches. While a batch runs, the next requests queue up and form the next batch.

The server talks to a *predictor* (``Predictor``): ``wave_network.TextClassifier`` loaded from a run or model
directory, on PyTorch or (``backend="onnx"``) on onnxruntime. Needs the ``serve`` extra (fastapi, uvicorn).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

EXTRA_MESSAGE = "serving needs the serve extra: pip install 'wave-network[serve]'"

try:
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, Field, model_validator
except ImportError as error:  # the core package does not depend on the serving stack
    raise ImportError(EXTRA_MESSAGE) from error

logger = logging.getLogger("wave_network.serving")


class Predictor(Protocol):
    """What the server needs of a classifier. ``records`` is called from one worker thread at a time.

    Each record is ``training.inference.predict``'s prediction (``{"label": name, "label_id": id,
    "probabilities": {name: p}}``) plus ``"top_k": [{"label": name, "probability": p}, ...]``: the ``k`` most
    probable labels with ``p >= threshold``, most probable first. A ``model_dir`` attribute, where present, is
    shown by ``/health``.
    """

    labels: list[str]
    max_length: int

    def records(self, texts: list[str], k: int = 1, threshold: float = 0.0) -> list[dict]: ...


@dataclass(frozen=True)
class ServeLimits:
    """Limits of one server.

    Attributes:
        max_batch_size: most texts in one model batch, gathered across requests.
        max_text_chars: longest text accepted, in characters (longer: HTTP 413). The model truncates to its
            ``max_length`` tokens anyway; this bounds the tokenizer's work per text.
        max_request_texts: most texts in one request (more: HTTP 413).
        batch_wait_ms: how long a batch, once it has a first request, waits for more before it runs.
    """

    max_batch_size: int = 64
    max_text_chars: int = 20000
    max_request_texts: int = 256
    batch_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        for name in ("max_batch_size", "max_text_chars", "max_request_texts"):
            if getattr(self, name) < 1:
                raise ValueError(f"ServeLimits.{name}={getattr(self, name)}: must be at least 1")
        if self.batch_wait_ms < 0:
            raise ValueError(f"ServeLimits.batch_wait_ms={self.batch_wait_ms}: must be 0 or more")


@dataclass(eq=False)
class _Job:
    """One request's texts; the worker may cut them across batches (``taken`` of them are in a batch)."""

    texts: list[str]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    results: list[Any] = field(init=False)  # a record per text, filled batch by batch
    taken: int = 0
    filled: int = 0
    failed: bool = False

    def __post_init__(self) -> None:
        self.results = [None] * len(self.texts)

    @property
    def dropped(self) -> bool:
        return self.failed or self.future.cancelled()  # a client that went away, or a failed earlier piece


class RequestBatcher:
    """Runs ``predict(texts) -> records`` on one worker thread over the texts of many requests at once."""

    def __init__(self, predict: Callable[[list[str]], list[dict]], max_batch_size: int, batch_wait_s: float) -> None:
        self._predict = predict
        self._max = max_batch_size
        self._wait_s = batch_wait_s
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self.model_calls = 0  # written by the worker thread only
        self.texts_done = 0

    @property
    def queued(self) -> int:
        """Requests waiting for the worker (approximate: the worker may be taking one)."""
        return self._jobs.qsize()

    def start(self) -> None:
        with self._lock:
            self._start()

    def _start(self) -> None:
        if self._stopped:
            raise RuntimeError("the server is shutting down")
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="wave-network-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Answer every job queued so far, refuse later ones, end the worker."""
        with self._lock:  # no job can be queued behind the end marker
            self._stopped = True
            thread = self._thread
            if thread is not None:
                self._jobs.put(None)
        if thread is not None:
            thread.join(timeout)
        while True:  # jobs queued after the worker's last look
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                _settle(job, None, RuntimeError("the server is shutting down"))

    async def submit(self, texts: list[str]) -> list[dict]:
        """The predictor's records for ``texts``, in order; raises what the predictor raised."""
        loop = asyncio.get_running_loop()
        job = _Job(texts, loop.create_future(), loop)
        with self._lock:
            self._start()  # idempotent: also serves an app whose lifespan was not run (ASGI test clients)
            self._jobs.put(job)
        return await job.future

    def _work(self) -> None:
        backlog: deque[_Job] = deque()  # jobs taken off the queue, not yet wholly in a batch
        stopping = False
        while not stopping:
            if not backlog:
                job = self._jobs.get()
                if job is None:
                    break
                backlog.append(job)
            batch: list[tuple[_Job, int, int]] = []  # (job, start, stop) of its texts
            size = 0
            deadline = time.monotonic() + self._wait_s
            while size < self._max:
                if not backlog:
                    try:  # what is already queued is taken at once, even past the deadline
                        job = self._jobs.get(timeout=max(0.0, deadline - time.monotonic()))
                    except queue.Empty:
                        break
                    if job is None:
                        stopping = True
                        break
                    backlog.append(job)
                job = backlog[0]
                if job.dropped:
                    backlog.popleft()
                    continue
                take = min(self._max - size, len(job.texts) - job.taken)
                batch.append((job, job.taken, job.taken + take))
                job.taken += take
                size += take
                if job.taken == len(job.texts):
                    backlog.popleft()
            if batch:
                self._run(batch)
        for job in backlog:
            _settle(job, None, RuntimeError("the server is shutting down"))

    def _run(self, batch: list[tuple[_Job, int, int]]) -> None:
        texts = [text for job, start, stop in batch for text in job.texts[start:stop]]
        try:
            self.model_calls += 1
            records = self._predict(texts)
            if len(records) != len(texts):
                raise RuntimeError(f"the predictor returned {len(records)} records for {len(texts)} texts")
        except Exception as error:
            if len(batch) > 1:  # one request's texts may be what broke the model: do not fail the others with it
                for piece in batch:
                    self._run([piece])
                return
            job = batch[0][0]
            logger.exception("prediction failed for a request of %d texts", len(job.texts))
            job.failed = True
            _settle(job, None, error)
            return
        self.texts_done += len(texts)
        offset = 0
        for job, start, stop in batch:
            job.results[start:stop] = records[offset : offset + stop - start]
            offset += stop - start
            job.filled += stop - start
            if job.filled == len(job.texts):
                _settle(job, job.results, None)


def _settle(job: _Job, result: list[dict] | None, error: BaseException | None) -> None:
    """Resolve ``job``'s future on its event loop, from the worker thread."""

    def settle() -> None:
        if job.future.done():  # cancelled: the client went away
            return
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)

    try:
        job.loop.call_soon_threadsafe(settle)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass


class PredictRequest(BaseModel):
    """The body of ``POST /predict``: ``texts`` (a list) or ``text`` (one), and the top-k options."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str] | None = None
    text: str | None = None
    k: int = Field(1, ge=1, description="How many of the most probable labels to list in top_k.")
    threshold: float = Field(0.0, ge=0.0, le=1.0, description="Only labels with at least this probability in top_k.")

    @model_validator(mode="after")
    def _one_input(self) -> PredictRequest:
        if (self.texts is None) == (self.text is None):
            raise ValueError('give either "texts" (a list of strings) or "text" (one string), not both or neither')
        return self


def _check_texts(texts: list[str], limits: ServeLimits) -> None:
    """Refuse what has no meaningful answer (empty texts, as ``predict`` does) or would be too much work."""
    if not texts:
        raise HTTPException(422, '"texts" is empty: give at least one text to classify')
    if len(texts) > limits.max_request_texts:
        raise HTTPException(
            413,
            f"{len(texts)} texts in one request; this server takes at most {limits.max_request_texts} "
            "(max_request_texts): split them over several requests",
        )
    for i, text in enumerate(texts):
        if not text.strip():
            raise HTTPException(422, f"text {i} is empty: there is nothing to classify")
        if len(text) > limits.max_text_chars:
            raise HTTPException(
                413,
                f"text {i} has {len(text)} characters; this server takes at most {limits.max_text_chars} per text "
                "(max_text_chars)",
            )


def _top(record: dict, k: int, threshold: float) -> dict:
    """``record`` as the predictor gives it for ``k`` and ``threshold``, from its full ranking."""
    return {**record, "top_k": [e for e in record.get("top_k", []) if e["probability"] >= threshold][:k]}


def create_app(
    predictor: Predictor,
    *,
    max_batch_size: int = 64,
    max_text_chars: int = 20000,
    max_request_texts: int = 256,
    batch_wait_ms: float = 2.0,
) -> FastAPI:
    """The FastAPI app serving ``predictor`` with request batching (see the module docstring); the limits are
    ``ServeLimits``' fields. The batcher is ``app.state.batcher``."""
    limits = ServeLimits(max_batch_size, max_text_chars, max_request_texts, batch_wait_ms)
    labels = list(predictor.labels)
    # Requests differ in k and threshold; one model call serves them all when it ranks every label and each
    # request keeps its own prefix of the ranking.
    batcher = RequestBatcher(
        lambda texts: predictor.records(texts, k=len(labels), threshold=0.0),
        limits.max_batch_size,
        limits.batch_wait_ms / 1000,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        batcher.start()
        yield
        await asyncio.to_thread(batcher.stop)

    app = FastAPI(title="wave-network", summary="Wave Network text classification", lifespan=lifespan)
    app.state.batcher = batcher

    @app.get("/health")
    async def health() -> dict:
        return {
            "status": "ok",
            "labels": labels,
            "model_dir": getattr(predictor, "model_dir", None),
            "max_length": predictor.max_length,
            "limits": asdict(limits),
            "stats": {"model_calls": batcher.model_calls, "texts": batcher.texts_done, "queued": batcher.queued},
        }

    @app.get("/labels")
    async def get_labels() -> dict:
        return {"labels": labels}

    @app.post("/predict")
    async def predict(request: PredictRequest) -> JSONResponse:
        texts = request.texts if request.texts is not None else [request.text]
        _check_texts(texts, limits)
        try:
            records = await batcher.submit(texts)
        except Exception as error:
            return JSONResponse({"detail": f"prediction failed: {type(error).__name__}: {error}"}, status_code=500)
        try:
            return JSONResponse({"predictions": [_top(r, request.k, request.threshold) for r in records]})
        except ValueError:  # JSON has no NaN or infinity
            return JSONResponse({"detail": "prediction failed: the model gave non-finite probabilities"}, 500)

    return app


def serve(
    run_dir: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    device: str = "auto",
    backend: str = "torch",
    num_threads: int | None = None,
    log_level: str = "info",
    **limits: Any,
) -> None:
    """Serve the model of ``run_dir`` (a run directory's ``best/`` or a model directory) on ``host:port`` until
    interrupted; ``limits`` are ``ServeLimits``' fields, ``num_threads`` torch's CPU threads, ``backend``
    ``"torch"`` or ``"onnx"`` (a directory written by ``wave-network export``)."""
    try:
        import uvicorn
    except ImportError as error:
        raise ImportError(EXTRA_MESSAGE) from error
    import torch

    checked = ServeLimits(**limits)  # before the model loads
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    from .classifier import TextClassifier

    predictor = TextClassifier.load(run_dir, device=device, backend=backend, batch_size=checked.max_batch_size)
    # The first forward passes compile the fused wave kernels, a batch of one apart from larger batches: done here,
    # before the port opens, they do not fall on the first requests.
    predictor.records(["warm up"])
    predictor.records(["warm up", "a second text to warm up with"])
    uvicorn.run(create_app(predictor, **asdict(checked)), host=host, port=port, log_level=log_level)
