"""How fast the hub pulls a model file, beside curl fetching the same file from the same server.

The server is the local Hugging Face stand-in the tests use (``tests.hf_hub_server``), on
loopback, in a process of its own (in the benchmark's process it would share the GIL with
the llmhub side and not with curl), serving the demo model (or ``--file``). Both sides
fetch the same resolve URL to a fresh folder:

* llmhub: ``models_registry.download.download``, the whole pull a worker runs: the body
  written to a partial file while its sha256 is computed, the sha256 checked against the
  one the listing publishes, the header checked by llama.cpp's parser, the atomic rename.
* curl: ``curl -fsS -o FILE URL``, which only writes the bytes.

A warm-up of each, then ``--rounds`` rounds (default 5) alternating the two sides, each
waiting for a quiet machine. Rate = file size / wall time. The printout gives every run,
the medians and the ratio llmhub / curl against the target (at least 0.8). ``--rate``
caps the server's sending rate (bytes/s), to see both sides behind a slower link. It is a
benchmark: it exits 0 when the target is missed and says MISSED beside it.

Run from the project root: ``python -m bench.pull``.
"""
import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.quiet import measured_quietly
from bench.report import fmt, median, table, verdict

MIN_RATIO = 0.8
REPO = "bench/pull-GGUF"


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def demo_file() -> Path:
    from models_registry.demo import demo_model_path

    return demo_model_path()


def llmhub_pull(url: str, dest: Path, size: int, sha256: str) -> None:
    from inference.gguf_check import gguf_file_check
    from models_registry.download import RemoteFile, download

    download(RemoteFile(url=url, dest=dest, size=size, sha256=sha256),
             progress=lambda done: None, verify=gguf_file_check)


def curl_pull(url: str, dest: Path, size: int, sha256: str) -> None:
    subprocess.run(["curl", "-fsS", "-o", str(dest), url], check=True)


def timed(pull: Callable, url: str, size: int, sha256: str) -> float:
    """Seconds for one pull into a fresh folder; the file is checked, then deleted."""
    folder = Path(tempfile.mkdtemp(prefix="llmhub-bench-pull-"))
    try:
        dest = folder / "model.gguf"
        started = time.perf_counter()
        pull(url, dest, size, sha256)
        seconds = time.perf_counter() - started
        if dest.stat().st_size != size:
            raise RuntimeError(f"{pull.__name__} wrote {dest.stat().st_size} of {size} bytes")
        return seconds
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=None, help="GGUF file to serve")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rate", type=int, default=None, help="server cap in bytes/s")
    args = parser.parse_args()
    source = args.file or demo_file()
    size, sha256 = source.stat().st_size, file_sha256(source)
    with hub_server(source, args.rate) as endpoint:
        url = f"{endpoint}/{REPO}/resolve/main/{source.name}"
        runs = run_rounds(url, size, sha256, args.rounds)
    print_report(source, size, runs, args.rate)


@contextmanager
def hub_server(source: Path, rate: int | None) -> Iterator[str]:
    """``python -m tests.hf_hub_server`` serving ``source``; yields its URL."""
    command = [sys.executable, "-m", "tests.hf_hub_server", REPO, str(source)]
    server = subprocess.Popen(command + (["--rate", str(rate)] if rate else []),
                              stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline().strip()
        if not line.startswith("HF_ENDPOINT="):
            raise RuntimeError(f"the local Hub did not start: {line!r}")
        yield line.removeprefix("HF_ENDPOINT=")
    finally:
        server.terminate()
        server.wait(timeout=10)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def run_rounds(url: str, size: int, sha256: str, rounds: int) -> dict[str, list[float]]:
    sides = {"llmhub": llmhub_pull, "curl": curl_pull}
    for name, pull in sides.items():
        progress(f"warm-up: {name}")
        timed(pull, url, size, sha256)
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for round_number in range(1, rounds + 1):
        for name, pull in sides.items():
            seconds, _, _ = measured_quietly(lambda pull=pull: timed(pull, url, size, sha256),
                                             label=name, report=progress)
            runs[name].append(seconds)
            progress(f"round {round_number}: {name} {size / seconds / 1e6:.0f} MB/s")
    return runs


def print_report(source: Path, size: int, runs: dict[str, list[float]], rate) -> None:
    print(f"Pull of {source.name} ({size / 1e6:.1f} MB) from the local Hugging Face server"
          + (f" capped at {rate / 1e6:.0f} MB/s" if rate else " on loopback, uncapped"))
    rows = [[name, *(fmt(size / s / 1e6, 0) for s in seconds)] for name, seconds in runs.items()]
    print(table(["MB/s", *(f"run {i + 1}" for i in range(len(runs["curl"])))], rows))
    rates = {name: size / median(seconds) / 1e6 for name, seconds in runs.items()}
    ratio = rates["llmhub"] / rates["curl"]
    print()
    print(table(["median", "MB/s"], [[name, fmt(value, 0)] for name, value in rates.items()]))
    print()
    print(f"llmhub / curl: {ratio:.2f} (target >= {MIN_RATIO}) {verdict(ratio < MIN_RATIO)}")
    print("llmhub's time includes the sha256 check, llama.cpp's header check and the rename.")


if __name__ == "__main__":
    main()
