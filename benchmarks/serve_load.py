"""Load test of ``wave-network serve``: requests per second and latency of one text per request, first one request
at a time, then from ``--concurrency`` clients at once, whose requests the server gathers into shared batches.

    python benchmarks/serve_load.py RUN_DIR [--requests 2000 --concurrency 32 --threads 2]
    python benchmarks/serve_load.py --model paper-modulation     # an untrained model of a preset (same speed)

The server runs in its own process (``python -m wave_network.cli serve``) on a free local port, on ``--threads``
CPU threads; the clients are threads of this process, one keep-alive HTTP connection each, posting AG News test
texts (the bundled sample) as ``{"text": ...}``. The phases start after ``--warmup`` requests each way (the
first forward passes compile the fused wave kernels). Latency is from sending a request to reading its reply; the
texts per model batch come from the server's ``/health`` counters. Client and server share the machine, so on
few cores the clients' own CPU time is part of the figures.

Writes benchmarks/results/serve_load.{json,md}. Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from efficiency import cpu_name, write_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "benchmarks" / "results" / "serve_load.json"
AG_NEWS_LABELS = ["World", "Sports", "Business", "Sci/Tech"]


def sample_texts() -> list[str]:
    """The bundled AG News test texts (title and description, as the data loader joins them)."""
    path = files("wave_network") / "resources" / "data" / "ag_news_sample" / "test.csv.gz"
    with gzip.open(str(path), "rt", encoding="utf-8") as handle:
        return [f"{title} {description}" for _, title, description in csv.reader(handle)]


def untrained_model_dir(preset: str, max_length: int, directory: Path) -> Path:
    """A preset's model with a fresh initialisation and the bundled tokenizer cut at ``max_length``, saved as a
    run's ``best/``: a trained model of the same config costs the same per text."""
    from wave_network import create_model
    from wave_network.data import get_tokenizer

    model = create_model(preset, num_labels=len(AG_NEWS_LABELS))
    model.config.id2label = dict(enumerate(AG_NEWS_LABELS))
    model.config.label2id = {name: i for i, name in enumerate(AG_NEWS_LABELS)}
    model.save_pretrained(directory)
    tokenizer = get_tokenizer()
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(directory)
    return directory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir: Path, args: argparse.Namespace, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "wave_network.cli",
        "serve",
        str(model_dir),
        "--port",
        str(port),
        "--device",
        "cpu",
        "--num-threads",
        str(args.threads),
        "--max-batch-size",
        str(args.max_batch_size),
        "--batch-wait-ms",
        str(args.batch_wait_ms),
    ]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"the server did not answer /health in 300 s:\n{log.read_text()[-3000:]}")


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


def load(url: str, texts: list[str], requests: int, concurrency: int, offset: int = 0) -> dict[str, Any]:
    """``requests`` one-text requests from ``concurrency`` client threads, each on its own connection."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(concurrency + 1)

    def client(worker: int) -> None:
        mine = []
        with httpx.Client(base_url=url, timeout=120) as http:
            http.get("/health")  # open the connection before the clock starts
            ready.wait()
            for i in range(worker, requests, concurrency):
                start = time.perf_counter()
                reply = http.post("/predict", json={"text": texts[(offset + i) % len(texts)]})
                mine.append(time.perf_counter() - start)
                if reply.status_code != 200:
                    errors.append(f"{reply.status_code}: {reply.text[:200]}")
        with lock:
            latencies.extend(mine)

    before = httpx.get(f"{url}/health").json()["stats"]
    threads = [threading.Thread(target=client, args=(w,)) for w in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=120)  # every client connected
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - start
    after = httpx.get(f"{url}/health").json()["stats"]
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, the first: {errors[0]}")
    latencies.sort()
    calls = after["model_calls"] - before["model_calls"]
    return {
        "concurrency": concurrency,
        "requests": requests,
        "wall_s": wall,
        "requests_per_s": requests / wall,
        "p50_ms": 1e3 * percentile(latencies, 0.50),
        "p99_ms": 1e3 * percentile(latencies, 0.99),
        "mean_ms": 1e3 * sum(latencies) / len(latencies),
        "model_calls": calls,
        "texts_per_model_call": (after["texts"] - before["texts"]) / calls if calls else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?", type=Path, help="A run or model directory (default: see --model).")
    parser.add_argument("--model", default="paper-modulation", help="Preset of the untrained model without RUN_DIR.")
    parser.add_argument("--max-length", type=int, default=128, help="Token limit of the untrained model.")
    parser.add_argument("--requests", type=int, default=2000, help="Timed requests per phase.")
    parser.add_argument("--warmup", type=int, default=50, help="Untimed requests each way before the phases.")
    parser.add_argument("--concurrency", type=int, default=32, help="Client threads of the concurrent phase.")
    parser.add_argument("--threads", type=int, default=2, help="The server's torch CPU threads.")
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--batch-wait-ms", type=float, default=2.0)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be at least 1, --warmup at least 0")
    texts = sample_texts()
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        model_dir = args.run_dir or untrained_model_dir(args.model, args.max_length, Path(tmp) / "model")
        process, url = start_server(model_dir, args, Path(tmp) / "server.log")
        try:
            health = httpx.get(f"{url}/health").json()
            if args.warmup:  # both ways: torch.compile specialises a batch of one apart from larger ones
                load(url, texts, args.warmup, 1, offset=len(texts) // 2)
                load(url, texts, args.warmup, min(args.concurrency, args.warmup), offset=len(texts) // 2)
            phases = [load(url, texts, args.requests, 1), load(url, texts, args.requests, args.concurrency)]
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
    result = {
        "benchmark": "serve_load",
        "description": "one AG News text per POST /predict; one client, then --concurrency clients at once; "
        "latency from send to reply, client threads on the same machine",
        "model": str(args.run_dir) if args.run_dir else f"{args.model} (untrained)",
        "max_length": health["max_length"],
        "limits": health["limits"],
        "cpu": cpu_name(),
        "precision": "fp32",  # TextClassifier's inference runs without autocast
        "cpu_count": os.cpu_count(),
        "server_threads": args.threads,
        "torch": torch.__version__,
        "warmup_requests": args.warmup,
        "phases": phases,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
    }
    write_result(args.output, result, markdown)


def markdown(result: dict) -> str:
    limits = result["limits"]
    lines = [
        f"`wave-network serve`, {result['model']}, {result['max_length']} tokens, on {result['cpu']} "
        f"({result['server_threads']} server threads of {result['cpu_count']} CPUs, torch {result['torch']}); "
        f"batches of up to {limits['max_batch_size']} texts, {limits['batch_wait_ms']:g} ms wait. One text per "
        "request; the clients run on the same machine.",
        "",
        "| clients | requests | requests/s | p50 (ms) | p99 (ms) | texts per model batch |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result["phases"]:
        batch = "" if p["texts_per_model_call"] is None else f"{p['texts_per_model_call']:.1f}"
        lines.append(
            f"| {p['concurrency']} | {p['requests']} | {p['requests_per_s']:.1f} | {p['p50_ms']:.1f} | "
            f"{p['p99_ms']:.1f} | {batch} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
