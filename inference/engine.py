"""A continuous-batching llama.cpp engine (DESIGN.md invariant 3).

One engine owns one model and one llama.cpp context, used by one thread only. The context
has N sequence slots. Every step the thread admits waiting requests into free slots,
feeds one batch to ``llama_decode`` that holds the next token of every decoding sequence
plus a chunk of the prompts being prefilled, then samples each sequence with its own
sampler chain. Callers on other threads submit requests and read their events from a
queue; setting ``request.cancelled`` ends a request at the next step.

A slot keeps its KV cache after its request ends: the next request whose prompt starts
with the same tokens (the next turn of a conversation) reuses it and prefills only the
rest.
"""
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator

from inference.backends import BackendError
from inference.llama import LlamaContext
from inference.sequence import Sequence
from inference.types import Completion, GenerationEvent, GenerationRequest, ModelSpec

log = logging.getLogger(__name__)

PREFILL_CHUNK = 512  # tokens per step: a long prompt is spread over steps, others go on


class PromptTooLong(BackendError):
    def __init__(self, prompt_tokens: int, context_length: int) -> None:
        super().__init__(
            f"prompt is {prompt_tokens} tokens, model context is {context_length}", permanent=True
        )


class _Failure:
    def __init__(self, error: BackendError) -> None:
        self.error = error


class _Job:
    def __init__(self, request: GenerationRequest) -> None:
        self.request = request
        self.events: queue.SimpleQueue = queue.SimpleQueue()

    def emit(self, event: GenerationEvent | _Failure) -> None:
        self.events.put(event)


class LlamaEngine:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._inbox: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._loaded = threading.Event()
        self._load_error: BackendError | None = None
        self.thread = threading.Thread(target=self._run, name=f"engine:{spec.name}", daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Finish what is queued, then free the model and end the thread."""
        self._inbox.put(None)

    def wait_loaded(self) -> None:
        """Return once the model is in memory; raise BackendError if it could not load."""
        self._loaded.wait()
        if self._load_error:
            raise self._load_error

    def generate(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        """Yield the request's TextChunks, then its Completion; raise BackendError on failure."""
        self.wait_loaded()
        job = _Job(request)
        self._inbox.put(job)
        while True:
            event = job.events.get()
            if isinstance(event, _Failure):
                raise event.error
            yield event
            if isinstance(event, Completion):
                return

    def prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        self._loaded.wait()
        return self._llama.chat_prompt_tokens(messages)

    # --- engine thread ------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._llama = LlamaContext(self.spec)
        except BackendError as error:
            self._load_error = error
        except Exception as error:  # llama.cpp says little more than "failed to load"
            log.exception("loading %s failed", self.spec.file_path)
            self._load_error = BackendError(f"could not load {self.spec.name}: {error}")
        finally:
            self._loaded.set()
        if self._load_error:
            return
        self._slots: list[Sequence | None] = [None] * self._llama.n_slots
        self._waiting: deque[_Job] = deque()
        self._closing = False
        while not (self._closing and not self._waiting and not self._busy()):
            self._take_new_jobs(block=not self._waiting and not self._busy())
            self._admit()
            if self._busy():
                try:
                    self._step()
                except Exception as error:  # the thread must outlive any one bad step
                    log.exception("engine step failed")
                    self._fail_all(BackendError(f"engine error: {error}"))
        self._llama.close()

    def _busy(self) -> bool:
        return any(self._slots)

    def _take_new_jobs(self, *, block: bool) -> None:
        try:
            while True:
                job = self._inbox.get(block=block)
                block = False
                if job is None:
                    self._closing = True
                else:
                    self._waiting.append(job)
        except queue.Empty:
            pass

    def _admit(self) -> None:
        for job in [job for job in self._waiting if job.request.cancelled.is_set()]:
            self._waiting.remove(job)  # stopped while it waited for a slot
            job.emit(Completion("cancelled", 0, 0, 0.0))
        while self._waiting and None in self._slots:
            job = self._waiting.popleft()
            try:
                self._start(job)
            except BackendError as error:
                job.emit(_Failure(error))
            except Exception as error:  # a chat template may refuse the messages, say
                job.emit(_Failure(BackendError(f"could not start the reply: {error}", True)))

    def _start(self, job: _Job) -> None:
        request = job.request
        prompt = self._llama.request_prompt_tokens(request)
        if not prompt:  # nothing to decode: refuse it here, before it reaches a batch
            raise BackendError("the prompt is empty", permanent=True)
        if len(prompt) >= self._llama.n_ctx_slot:
            raise PromptTooLong(len(prompt), self._llama.n_ctx_slot)
        slot = self._llama.slot_for(prompt, free=self._free_slots(), reuse=request.reuse_prefix)
        kept = self._llama.slot_keep_prefix(slot, prompt, reuse=request.reuse_prefix)
        self._slots[slot] = Sequence(
            job=job, slot=slot, prompt=prompt, kept=kept, llama=self._llama
        )

    def _free_slots(self) -> list[int]:
        return [index for index, sequence in enumerate(self._slots) if sequence is None]

    def _step(self) -> None:
        self._end_cancelled()
        decoding = [s for s in self._slots if s is not None and s.decoding]
        prefilling = [s for s in self._slots if s is not None and not s.decoding]
        batch = self._llama.batch_start()
        for sequence in decoding:
            sequence.feed_next(batch)
        room = max(PREFILL_CHUNK - len(decoding), 1)
        for sequence in prefilling:
            room -= sequence.feed_prompt(batch, room)
            if room <= 0:
                break
        if not len(batch):
            return
        try:
            self._llama.decode(batch)
        except BackendError as error:
            self._fail_all(error)
            return
        now = time.perf_counter()
        for sequence in [s for s in self._slots if s is not None and s.output_index is not None]:
            completion = sequence.sample(now)
            if completion is not None:
                self._slots[sequence.slot] = None
                sequence.job.emit(completion)

    def _end_cancelled(self) -> None:
        for index, sequence in enumerate(self._slots):
            if sequence is not None and sequence.request.cancelled.is_set():
                self._slots[index] = None
                sequence.job.emit(sequence.cancel())

    def _fail_all(self, error: BackendError) -> None:
        for index, sequence in enumerate(self._slots):
            if sequence is not None:
                self._llama.slot_clear(index)
                sequence.job.emit(_Failure(error))
                self._slots[index] = None
