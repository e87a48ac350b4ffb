"""A llama.cpp engine: one model, one context, owned by one thread (DESIGN.md invariant 3).

Requests are queued to the engine thread and served one at a time (one slot); the issue on
continuous batching turns the loop into a batched decode over many slots. Callers on other
threads read events from a per-request queue and may set ``request.cancelled``; the engine
looks at it before every token.
"""
import codecs
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from inference.backends import BackendError
from inference.types import Completion, GenerationEvent, GenerationRequest, ModelSpec, TextChunk

log = logging.getLogger(__name__)


class PromptTooLong(BackendError):
    def __init__(self, prompt_tokens: int, context_length: int) -> None:
        super().__init__(
            f"prompt is {prompt_tokens} tokens, model context is {context_length}", permanent=True
        )


@dataclass
class _Job:
    request: GenerationRequest
    events: queue.Queue = field(default_factory=queue.Queue)


class _Failure:
    def __init__(self, error: BackendError) -> None:
        self.error = error


class LlamaEngine:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._loaded = threading.Event()
        self._load_error: BackendError | None = None
        self.thread = threading.Thread(target=self._run, name=f"engine:{spec.name}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Serve what is queued, then free the model and end the thread."""
        self._jobs.put(None)

    def generate(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        """Yield the request's TextChunks, then its Completion; raise BackendError on failure."""
        self._loaded.wait()
        if self._load_error:
            raise self._load_error
        job = _Job(request)
        self._jobs.put(job)
        while True:
            event = job.events.get()
            if isinstance(event, _Failure):
                raise event.error
            yield event
            if isinstance(event, Completion):
                return

    # --- engine thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._load()
        except Exception as error:  # llama.cpp says little more than "failed to load"
            log.exception("loading %s failed", self.spec.file_path)
            self._load_error = BackendError(f"could not load {self.spec.name}: {error}")
        finally:
            self._loaded.set()
        if self._load_error:
            return
        while (job := self._jobs.get()) is not None:
            try:
                for event in self._decode(job.request):
                    job.events.put(event)
            except BackendError as error:
                job.events.put(_Failure(error))
            except Exception as error:
                log.exception("generation failed")
                job.events.put(_Failure(BackendError(f"engine error: {error}")))
        self._llama.close()

    def _load(self) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self._llama = Llama(
            model_path=self.spec.file_path,
            n_ctx=self.spec.context_length,
            n_threads=self.spec.n_threads or None,
            n_gpu_layers=self.spec.n_gpu_layers,
            verbose=False,
        )
        template = self._llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise BackendError(f"{self.spec.name} has no chat template", permanent=True)
        vocab_piece = self._llama._model.token_get_text
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=vocab_piece(self._llama.token_eos()),
            bos_token=vocab_piece(self._llama.token_bos()),
        )

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        formatted = self._formatter(messages=messages)
        return self._llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )

    def _decode(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        if request.cancelled.is_set():  # stopped while it waited for the engine
            yield Completion("cancelled", 0, 0, 0.0)
            return
        prompt = self.prompt_tokens(request.messages)
        n_ctx = self._llama.n_ctx()
        if len(prompt) >= n_ctx:
            raise PromptTooLong(len(prompt), n_ctx)
        budget = min(request.max_tokens, n_ctx - len(prompt))
        if request.seed is not None:
            self._llama.set_seed(request.seed)
        # Bytes are decoded incrementally so a multi-byte character split over two
        # tokens is held back until it is whole, and nothing is detokenized twice.
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        count, finish, first_at = 0, "length", None
        tokens = self._llama.generate(
            prompt,
            temp=request.temperature,
            top_k=request.top_k,
            top_p=request.top_p,
            min_p=request.min_p,
            repeat_penalty=request.repeat_penalty,
        )
        for token in tokens:
            if request.cancelled.is_set():
                finish = "cancelled"
                break
            if self._is_end_of_generation(token):
                finish = "stop"
                break
            first_at = first_at or time.perf_counter()
            count += 1
            text = utf8.decode(self._piece(token))
            if text:
                yield TextChunk(text)
            if count >= budget:
                break
        # Bytes still held back belong to a character the budget cut in half: dropped,
        # not sent as U+FFFD.
        decode_seconds = time.perf_counter() - first_at if first_at else 0.0
        yield Completion(finish, len(prompt), count, decode_seconds)

    def _is_end_of_generation(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._llama._model.vocab, token))

    def _piece(self, token: int) -> bytes:
        """The token's bytes, which may be part of a UTF-8 character."""
        import ctypes

        import llama_cpp

        vocab, size = self._llama._model.vocab, 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            length = llama_cpp.llama_token_to_piece(vocab, token, buffer, size, 0, False)
            if length >= 0:
                return buffer.raw[:length]
            size = -length  # llama.cpp answers how much room the piece needs
