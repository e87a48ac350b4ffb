"""The hub's engine (``inference.engine.LlamaEngine``) driven by concurrent streams.

Each stream is a thread calling ``engine.generate`` with its own prompt; a barrier releases
them at the same moment, as a crowd of users would arrive. A stream's first token is its
first TextChunk, its last token its last TextChunk, its end the Completion; its token count
is the Completion's ``completion_tokens`` (chunks may carry several tokens).

The engine's API grows while this benchmark is in use: ``ModelSpec.slots`` and
``GenerationRequest.reuse_prefix`` are passed only when the dataclasses have them, so the
same code measures the one-slot engine and the batching one.
"""
import dataclasses
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.timing import ConcurrentRun, StreamTiming
from inference.types import Completion, GenerationRequest, ModelSpec, TextChunk


def has_field(cls, name: str) -> bool:
    return name in {f.name for f in dataclasses.fields(cls)}


def engine_spec(model_path: Path, *, slots: int, n_threads: int,
                context_length: int) -> ModelSpec:
    extra = {"slots": slots} if has_field(ModelSpec, "slots") else {}
    # The engine's Llama takes n_threads_batch from the CPU count when it is not given;
    # the field is passed too should the spec grow one.
    if has_field(ModelSpec, "n_threads_batch"):
        extra["n_threads_batch"] = n_threads
    return ModelSpec(name="bench-demo", backend="llamacpp", file_path=str(model_path),
                     context_length=context_length, n_threads=n_threads, **extra)


def engine_slots(spec: ModelSpec) -> int | None:
    return getattr(spec, "slots", None)


def greedy_request(spec: ModelSpec, messages: list[dict[str, str]], *, max_tokens: int,
                   reuse_prefix: bool | None = None) -> GenerationRequest:
    extra = {}
    if reuse_prefix is not None:
        if not has_field(GenerationRequest, "reuse_prefix"):
            raise TypeError("this engine's GenerationRequest has no reuse_prefix")
        extra["reuse_prefix"] = reuse_prefix
    return GenerationRequest(model=spec, messages=messages, max_tokens=max_tokens,
                             temperature=0.0, seed=0, **extra)


def timed_stream(engine, request: GenerationRequest) -> tuple[StreamTiming, float]:
    """Consume one generation; return its timing and when generate() was called."""
    chunks: list[str] = []
    first_at = last_at = None
    completion = None
    called_at = time.perf_counter()
    for event in engine.generate(request):
        now = time.perf_counter()
        if isinstance(event, TextChunk):
            first_at = first_at or now
            last_at = now
            chunks.append(event.text)
        elif isinstance(event, Completion):
            completion = event
    end_at = time.perf_counter()
    if completion is None:
        raise RuntimeError("the engine's stream ended without a Completion")
    timing = StreamTiming(tokens=completion.completion_tokens, first_at=first_at,
                          last_at=last_at, end_at=end_at, text="".join(chunks),
                          prompt_tokens=completion.prompt_tokens, chunks=len(chunks))
    return timing, called_at


def concurrent_streams(engine, requests: list[GenerationRequest]) -> ConcurrentRun:
    """Start every request at the same moment, each from its own thread."""
    gate = threading.Barrier(len(requests))

    def one(request: GenerationRequest) -> StreamTiming:
        gate.wait()
        return timed_stream(engine, request)[0]

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        timings = list(pool.map(one, requests))
    return ConcurrentRun(tuple(timings))


def time_to_first_token(engine, request: GenerationRequest) -> tuple[float, str]:
    """Seconds from calling generate() to the first TextChunk, and the text generated."""
    timing, called_at = timed_stream(engine, request)
    if timing.first_at is None:
        raise RuntimeError("the engine generated no text")
    return timing.first_at - called_at, timing.text
