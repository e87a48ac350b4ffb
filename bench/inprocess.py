"""The baselines, called in this process: llama-cpp-python, and the hub's own engine.

``InProcessLlama``: llama-cpp-python's ``Llama.generate``; the prompt, the sampler settings and
the stop rule copy ``inference.engine.LlamaEngine`` so that both sides do the same work for
the same tokens; only the hub's plumbing differs.

``InProcessEngine``: ``inference.engine.LlamaEngine`` itself, with the ModelSpec the hub's
worker builds (``chat.generation.generation_request``), so the hub is measured against its
own engine without the worker, the queue, Redis and the websocket in between.

llama.cpp's CPU backend here is built with OpenMP: a thread that has called ``llama_decode``
keeps a team of worker threads alive as long as it lives, and ``llama_decode`` on any other
thread of the process then runs 35-45% slower (see ``bench.baselines``). So neither side
outlives its run: each ``Llama.generate`` run decodes on a thread of its own that ends with
it, and each engine run gets a fresh engine (its own thread) that is closed and joined after.
"""
import dataclasses
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from inference.types import GenerationRequest, ModelSpec

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class InProcessRun:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_second: float | None
    text: str


def hub_sampling() -> dict:
    # The engine passes the GenerationRequest defaults it is given; the same values keep
    # the sampler chain (and its cost per token) identical on both sides.
    names = ("top_k", "top_p", "min_p", "repeat_penalty")
    return {f.name: f.default for f in dataclasses.fields(GenerationRequest) if f.name in names}


def on_own_thread(work: Callable[[], T], *, name: str) -> T:
    """Run ``work`` on a new thread that ends with it; its OpenMP team ends with it too."""
    outcome: list = []

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as error:  # handed to the caller's thread
            outcome.append(error)

    worker = threading.Thread(target=target, name=name)
    worker.start()
    worker.join()
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    return outcome[0]


def decode_tokens_per_second(count: int, first_at: float | None, last_at: float | None):
    # The first token's time belongs to the prompt, as in the hub's own figure.
    if count < 2 or first_at is None or last_at is None or last_at <= first_at:
        return None
    return (count - 1) / (last_at - first_at)


class InProcessLlama:
    """One Llama kept loaded across runs, as the hub's worker keeps its engine."""

    def __init__(self, model_path: Path, *, context_length: int) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        # The hub's worker decodes with one thread per core (LLMHUB_LLAMA_THREADS unset).
        threads = os.cpu_count() or 1
        self.llama = Llama(model_path=str(model_path), n_ctx=context_length, verbose=False,
                           n_threads=threads, n_threads_batch=threads)
        vocab_piece = self.llama._model.token_get_text
        self.formatter = Jinja2ChatFormatter(
            template=self.llama.metadata["tokenizer.chat_template"],
            eos_token=vocab_piece(self.llama.token_eos()),
            bos_token=vocab_piece(self.llama.token_bos()),
        )

    @property
    def n_threads(self) -> int:
        return self.llama.n_threads

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        formatted = self.formatter(messages=messages)
        return self.llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )

    def is_end_of_generation(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.llama._model.vocab, token))

    def run(self, prompt: str, *, max_tokens: int) -> InProcessRun:
        """One greedy generation, decoded on a short-lived thread (see the module docstring)."""
        return on_own_thread(lambda: self._run(prompt, max_tokens=max_tokens), name="llama-run")

    def _run(self, prompt: str, *, max_tokens: int) -> InProcessRun:
        # The clock starts before the chat template, as the hub's TTFT does.
        started = time.perf_counter()
        prompt_tokens = self.prompt_tokens([{"role": "user", "content": prompt}])
        budget = min(max_tokens, self.llama.n_ctx() - len(prompt_tokens))
        generated: list[int] = []
        first_at = last_at = None
        for token in self.llama.generate(prompt_tokens, temp=0.0, **hub_sampling()):
            if self.is_end_of_generation(token):
                break
            last_at = time.perf_counter()
            first_at = first_at or last_at
            generated.append(token)
            if len(generated) >= budget:
                break
        return InProcessRun(
            prompt_tokens=len(prompt_tokens),
            completion_tokens=len(generated),
            ttft_ms=(first_at - started) * 1000 if first_at else float("nan"),
            tokens_per_second=decode_tokens_per_second(len(generated), first_at, last_at),
            text=self.llama.detokenize(generated).decode("utf-8", errors="replace"),
        )


def worker_model_spec(model) -> ModelSpec:
    """The ModelSpec the hub's worker builds for the model row."""
    from models_registry.serving import model_spec

    return model_spec(model)


class InProcessEngine:
    """The hub's engine called in this process: a fresh LlamaEngine for every run.

    A fresh engine per run keeps its decoding thread (and OpenMP team) from living on while
    ``Llama.generate`` runs; it is warmed up with a few uncounted tokens before the measured
    run so that neither the load nor the first decode's thread start lands in the figures.
    The request is greedy and reuses the prefix, as the hub's worker does: the warm-up puts
    the same prompt in a slot's cache, as the hub's earlier runs of the same prompt do.
    (``Llama.generate`` reuses its cached prefix the same way.)
    """

    WARM_UP_TOKENS = 4

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec

    @property
    def n_threads(self) -> int:
        return self.spec.n_threads

    @property
    def slots(self) -> int:
        return self.spec.slots

    def effective_threads(self) -> str:
        """The threads llama.cpp decodes with for this spec."""
        from inference.llama import thread_count

        return f"{thread_count(self.spec)}"

    def request(self, prompt: str, *, max_tokens: int) -> GenerationRequest:
        return GenerationRequest(model=self.spec, messages=[{"role": "user", "content": prompt}],
                                 max_tokens=max_tokens, temperature=0.0, seed=0)

    def run(self, prompt: str, *, max_tokens: int) -> InProcessRun:
        from inference.engine import LlamaEngine

        engine = LlamaEngine(self.spec)
        try:
            consume(engine, self.request(prompt, max_tokens=self.WARM_UP_TOKENS))
            return consume(engine, self.request(prompt, max_tokens=max_tokens))
        finally:
            engine.close()
            engine.thread.join()


def consume(engine, request: GenerationRequest) -> InProcessRun:
    """One generation; TTFT from calling generate() (the engine builds the prompt on its
    thread, as the hub's TTFT includes it) to the first TextChunk, tokens/s as the hub's
    client counts it: (completion_tokens - 1) / (end of stream - first TextChunk)."""
    from bench.engine_runs import timed_stream

    timing, called_at = timed_stream(engine, request)
    return InProcessRun(
        prompt_tokens=timing.prompt_tokens,
        completion_tokens=timing.tokens,
        ttft_ms=(timing.first_at - called_at) * 1000 if timing.first_at else float("nan"),
        tokens_per_second=decode_tokens_per_second(timing.tokens, timing.first_at,
                                                   timing.end_at),
        text=timing.text,
    )
