"""One request's life in an engine slot: its prompt to feed, then one token per step."""
import codecs
import time

from inference.llama import Batch, LlamaContext
from inference.types import Completion, TextChunk, TokenLogprob


class Sequence:
    def __init__(self, *, job, slot: int, prompt: list[int], kept: int,
                 llama: LlamaContext) -> None:
        self.job = job
        self.request = job.request
        self.slot = slot
        self.llama = llama
        self.prompt_length = len(prompt)
        self.cached_tokens = kept
        self.pending = prompt[kept:]  # what the slot's cache does not hold yet
        self.decoding = False
        self.output_index: int | None = None
        self.next_token: int | None = None
        self.chain = llama.sampler_chain(self.request, prompt)
        self.budget = min(self.request.max_tokens, llama.n_ctx_slot - len(prompt))
        # A chat on a model without a template also stops where its transcript would go on.
        chat = self.request.prompt is None
        self.stops = self.request.stop + (llama.chat_stops if chat else ())
        self.count = 0
        self.first_at: float | None = None
        self.text = ""
        self.emitted = 0  # characters of text already handed to the caller
        self.logprobs: list[TokenLogprob] = []
        # Bytes are decoded incrementally so a character split over two tokens is held
        # back until it is whole, and nothing is detokenized twice.
        self.utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    # --- feeding the batch ----------------------------------------------------------------
    def feed_prompt(self, batch: Batch, room: int) -> int:
        """Add up to ``room`` prompt tokens; the prompt's last one asks for logits."""
        chunk, self.pending = self.pending[:room], self.pending[room:]
        for position, token in enumerate(chunk):
            last = not self.pending and position == len(chunk) - 1
            index = self.llama.feed(batch, token, self.slot, logits=last)
        if not self.pending:
            self.output_index = index
            self.decoding = True
        return len(chunk)

    def feed_next(self, batch: Batch) -> None:
        self.output_index = self.llama.feed(batch, self.next_token, self.slot, logits=True)

    # --- after llama_decode -----------------------------------------------------------------
    def cancel(self) -> Completion:
        return self._finish("cancelled", time.perf_counter())

    def sample(self, now: float) -> Completion | None:
        """Pick this step's token and hand out its text; a Completion when the reply ends."""
        index, self.output_index = self.output_index, None
        distribution = self.llama.log_distribution(index) if self.request.logprobs else None
        token = self.llama.sample(self.chain, index)
        if self.llama.is_end_of_generation(token):
            return self._finish("stop", now)
        self.first_at = self.first_at or now
        self.count += 1
        if distribution is not None:
            self.logprobs.append(
                self.llama.token_logprob(distribution, token, self.request.logprobs))
        self.text += self.utf8.decode(self.llama.piece(token))
        if self._hand_out_text():
            return self._finish("stop", now)
        if self.count >= self.budget:
            return self._finish("length", now)
        self.next_token = token
        return None

    def _hand_out_text(self) -> bool:
        """Send the text no stop string can still claim; True when a stop string appeared."""
        stops = self.stops
        found = [i for i in (self.text.find(stop, self.emitted) for stop in stops) if i >= 0]
        if found:
            self.text = self.text[: min(found)]
            self._emit(len(self.text))
            return True
        held = max((_overlap(self.text, stop) for stop in stops), default=0)
        self._emit(len(self.text) - held)
        return False

    def _emit(self, upto: int) -> None:
        if upto > self.emitted or self.logprobs:
            self.job.emit(TextChunk(self.text[self.emitted:upto], tuple(self.logprobs)))
            self.emitted = max(self.emitted, upto)
            self.logprobs = []

    def _finish(self, reason: str, now: float) -> Completion:
        # Text held back for a stop string that never came is the reply's end: send it.
        # Bytes of a character the budget cut in half are dropped, not sent as U+FFFD.
        self._emit(len(self.text))
        self.llama.sampler_free(self.chain)
        decode_seconds = now - self.first_at if self.first_at else 0.0
        return Completion(reason, self.prompt_length, self.count, decode_seconds,
                          self.cached_tokens)


def _overlap(text: str, stop: str) -> int:
    """How many characters at the end of text begin the stop string."""
    for size in range(min(len(stop) - 1, len(text)), 0, -1):
        if stop.startswith(text[-size:]):
            return size
    return 0
