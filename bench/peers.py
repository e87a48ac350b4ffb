"""Other servers of the same model, as peers: started as subprocesses, streamed from by HTTP.

Each client is a thread with its own ``httpx`` connection posting the same chat messages as
the engine's streams to ``/v1/chat/completions`` (stream=true, temperature 0, the same
max_tokens, repeat_penalty 1.0: llama-cpp-python's server defaults to 1.1, which would
change both the text and the work per token). The clients start at the same moment behind
a barrier. A stream's first and last token are its first and last SSE chunk with content;
its token count is the server's ``usage`` where it sends one, else the streamed text
re-tokenized with the model's vocabulary.
"""
import contextlib
import dataclasses
import json
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench.hub import free_port
from bench.prompts import ChatTokenizer
from bench.timing import ConcurrentRun, StreamTiming

READY_TIMEOUT_S = 120.0
STREAM_TIMEOUT_S = 600.0


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str
    command: list[str]
    port: int
    ready_path: str = "/v1/models"
    extra_body: dict = dataclasses.field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def llama_cpp_python_server(python: str, model_path, *, n_threads: int, context_length: int,
                            interrupt_requests: bool) -> Peer:
    port = free_port()
    command = [
        python, "-m", "llama_cpp.server", "--model", str(model_path),
        "--n_threads", str(n_threads), "--n_threads_batch", str(n_threads),
        "--n_ctx", str(context_length), "--host", "127.0.0.1", "--port", str(port),
        "--interrupt_requests", str(interrupt_requests),
    ]
    label = "default" if interrupt_requests else "--interrupt_requests False"
    return Peer(f"llama_cpp.server ({label})", command, port)


def llama_server(model_path, *, parallel: int, n_threads: int, context_length: int) -> Peer:
    from bench import llama_server as build

    port = free_port()
    command = build.command(model_path, port, parallel=parallel, n_threads=n_threads,
                            context_length=context_length)
    # /health turns 200 once the model is loaded. include_usage: llama-server then reports
    # the exact completion token count in a last chunk.
    return Peer(f"llama-server (-np {parallel})", command, port, ready_path="/health",
                extra_body={"stream_options": {"include_usage": True}})


# --- the process ----------------------------------------------------------------------------
def wait_until_ready(peer: Peer, process: subprocess.Popen, log_path: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{peer.name} exited with {process.returncode}:\n"
                               + log_tail(log_path))
        with contextlib.suppress(httpx.HTTPError):
            # llama-server answers 503 while it loads the model: wait for a 200.
            if httpx.get(peer.base_url + peer.ready_path, timeout=2).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(f"{peer.name} did not answer in {READY_TIMEOUT_S:.0f} s:\n"
                       + log_tail(log_path))


def log_tail(log_path: str, lines: int = 20) -> str:
    with open(log_path, errors="replace") as log:
        return "".join(log.readlines()[-lines:])


@contextlib.contextmanager
def running(peer: Peer) -> Iterator[subprocess.Popen]:
    """The peer's process, answering HTTP; stopped (and waited for) on the way out."""
    with tempfile.NamedTemporaryFile("w+", prefix="bench-peer-", suffix=".log") as log:
        process = subprocess.Popen(peer.command, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
        try:
            wait_until_ready(peer, process, log.name)
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- the clients ----------------------------------------------------------------------------
def sse_payloads(response: httpx.Response) -> Iterator[dict]:
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue  # comments (": ping"), event names, blank separators
        data = line[len("data:"):].strip()
        if data == "[DONE]":
            return
        yield json.loads(data)


def stream_chat(peer: Peer, client: httpx.Client, messages: list[dict[str, str]], *,
                max_tokens: int, tokenizer: ChatTokenizer) -> StreamTiming:
    body = {"messages": messages, "max_tokens": max_tokens, "temperature": 0.0,
            "repeat_penalty": 1.0, "stream": True, **peer.extra_body}
    pieces: list[str] = []
    first_at = last_at = None
    usage = None
    with client.stream("POST", f"{peer.base_url}/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for payload in sse_payloads(response):
            usage = payload.get("usage") or usage
            choices = payload.get("choices") or []
            content = choices[0].get("delta", {}).get("content") if choices else None
            if content:
                last_at = time.perf_counter()
                first_at = first_at or last_at
                pieces.append(content)
    end_at = time.perf_counter()
    text = "".join(pieces)
    tokens = usage["completion_tokens"] if usage else tokenizer.count(text)
    return StreamTiming(tokens=tokens, first_at=first_at, last_at=last_at, end_at=end_at,
                        text=text, prompt_tokens=usage["prompt_tokens"] if usage else None,
                        chunks=len(pieces))


def concurrent_clients(peer: Peer, conversations: list[list[dict[str, str]]], *,
                       max_tokens: int, tokenizer: ChatTokenizer) -> ConcurrentRun:
    gate = threading.Barrier(len(conversations))

    def one(messages: list[dict[str, str]]) -> StreamTiming:
        with httpx.Client(timeout=STREAM_TIMEOUT_S) as client:
            gate.wait()
            return stream_chat(peer, client, messages, max_tokens=max_tokens,
                               tokenizer=tokenizer)

    with ThreadPoolExecutor(max_workers=len(conversations)) as pool:
        return ConcurrentRun(tuple(pool.map(one, conversations)))
