"""llama-cpp-python's low-level API, wrapped for the engine thread: one model, one context
with a sequence per slot, one reusable batch, sampler chains, per-slot KV bookkeeping.

Everything here runs on the engine's thread only (a llama.cpp context is not thread-safe).
"""
import ctypes
import math
import os
import time
from typing import NamedTuple

import llama_cpp
import numpy as np
from llama_cpp._internals import LlamaModel
from llama_cpp._logger import set_verbose
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from inference.backends import BackendError
from inference.types import GenerationRequest, ModelSpec, TokenLogprob

BATCH_TOKENS = 1024
PENALTY_LAST_N = 64
NEAR_PEAK_WIDTHS = (4.0, 16.0, math.inf)  # logits below the best one, tried in turn
# For a base model whose GGUF carries no chat template: the conversation as a transcript
# that ends on the assistant's label, for the model to go on from. The BOS token is the
# template's to write (llama-cpp-python's formatter reports it as added).
TRANSCRIPT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message.role == 'system' %}{{ message.content }}\n\n"
    "{% elif message.role == 'user' %}User: {{ message.content }}\n"
    "{% else %}Assistant: {{ message.content }}\n{% endif %}"
    "{% endfor %}Assistant:"
)
TRANSCRIPT_STOPS = ("\nUser:",)


class Batch:
    """A llama_batch filled token by token; ``add`` returns the token's index in it."""

    def __init__(self, capacity: int) -> None:
        self.raw = llama_cpp.llama_batch_init(capacity, 0, 1)
        self.capacity = capacity

    def clear(self) -> None:
        self.raw.n_tokens = 0

    def add(self, token: int, position: int, seq_id: int, logits: bool) -> int:
        index = self.raw.n_tokens
        if index >= self.capacity:
            raise BackendError("batch overflow")  # a bug, never bad input
        self.raw.token[index] = token
        self.raw.pos[index] = position
        self.raw.n_seq_id[index] = 1
        self.raw.seq_id[index][0] = seq_id
        self.raw.logits[index] = logits
        self.raw.n_tokens = index + 1
        return index

    def __len__(self) -> int:
        return self.raw.n_tokens

    def free(self) -> None:
        llama_cpp.llama_batch_free(self.raw)


class Distribution(NamedTuple):
    """Next-token logits, less the largest (the best token's is 0), and their log-sum-exp:
    a token's logprob is its logit - log_total."""

    logits: np.ndarray
    log_total: float

    def best(self, top: int) -> np.ndarray:
        """The ``top`` likeliest tokens, best first."""
        # Most steps have a handful of tokens near the best one: partitioning those, not
        # the whole vocabulary, takes a third of the time. A confident step has fewer than
        # ``top`` near it: look wider.
        for width in NEAR_PEAK_WIDTHS:
            near = np.flatnonzero(self.logits >= -width)
            if len(near) >= top:
                break
        best = near[np.argpartition(self.logits[near], len(near) - top)[len(near) - top:]]
        return best[np.argsort(-self.logits[best], kind="stable")]


class LlamaContext:
    def __init__(self, spec: ModelSpec) -> None:
        set_verbose(False)  # llama.cpp logs every tensor of the graph otherwise
        self.spec = spec
        self.n_slots = max(1, spec.slots)
        self.n_ctx_slot = spec.context_length
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = spec.n_gpu_layers
        self.model = LlamaModel(path_model=spec.file_path, params=model_params, verbose=False)
        self.vocab = self.model.vocab
        self.n_vocab = self.model.n_vocab()
        self.ctx = self._context(spec)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = Batch(BATCH_TOKENS)
        self.cached: list[list[int]] = [[] for _ in range(self.n_slots)]
        self.last_used = [0.0] * self.n_slots
        self._formatter = self._chat_formatter()
        self._texts: dict[int, str] = {}  # token -> its text alone (text_of)
        self._scratch = np.empty(self.n_vocab, dtype=np.float32)  # log_distribution's

    def _context(self, spec: ModelSpec):
        params = llama_cpp.llama_context_default_params()
        # Each slot gets the model's context length: llama.cpp splits n_ctx between
        # n_seq_max sequences when the KV cache is not unified.
        params.n_ctx = spec.context_length * self.n_slots
        params.n_seq_max = self.n_slots
        params.kv_unified = False
        # As llama-cpp-python's Llama: flash attention changes the float sums, so greedy
        # replies would differ from Llama.generate's on the same prompt.
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        params.n_batch = BATCH_TOKENS
        params.n_ubatch = min(BATCH_TOKENS, 512)
        params.n_threads = params.n_threads_batch = thread_count(spec)
        ctx = llama_cpp.llama_init_from_model(self.model.model, params)
        if ctx is None:
            raise BackendError(f"could not create a context for {spec.name}")
        return ctx

    def _chat_formatter(self) -> Jinja2ChatFormatter:
        """The model's own chat template; a base model without one gets a plain transcript
        (as Ollama gives a base model a bare prompt), and its reply ends at the next turn's
        label, which it would otherwise go on to write."""
        template = self.model.metadata().get("tokenizer.chat_template")
        self.chat_stops: tuple[str, ...] = ()
        if not template:
            template, self.chat_stops = TRANSCRIPT_TEMPLATE, TRANSCRIPT_STOPS
        text = self.model.token_get_text
        return Jinja2ChatFormatter(
            template=template,
            eos_token=text(self.model.token_eos()),
            bos_token=text(self.model.token_bos()),
        )

    def close(self) -> None:
        self.batch.free()
        llama_cpp.llama_free(self.ctx)
        self.model.close()

    # --- prompts and tokens ---------------------------------------------------------------
    def chat_prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        formatted = self._formatter(messages=messages)
        return self.model.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )

    def request_prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The chat template applied to the messages, or a raw prompt as it is."""
        if request.prompt is None:
            return self._chat_tokens_in_window(request)
        return self.model.tokenize(request.prompt.encode("utf-8"), add_bos=True, special=True)

    def _chat_tokens_in_window(self, request: GenerationRequest) -> list[int]:
        """The chat prompt, less its oldest turns while it overflows the request's context
        window (leaving room for the reply: max_tokens, at most half the window). System
        messages and the last message always stay; if those alone overflow, the engine's
        own context check refuses the prompt."""
        messages = list(request.messages)
        tokens = self.chat_prompt_tokens(messages)
        if not request.context_window:
            return tokens
        window = min(request.context_window, self.n_ctx_slot)
        budget = window - min(request.max_tokens, window // 2)
        while len(tokens) > budget and _drop_oldest_turn(messages):
            tokens = self.chat_prompt_tokens(messages)
        return tokens

    def is_end_of_generation(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def piece(self, token: int) -> bytes:
        """The token's bytes, which may be part of a UTF-8 character."""
        size = 64
        while True:
            buffer = ctypes.create_string_buffer(size)
            length = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, size, 0, False)
            if length >= 0:
                return buffer.raw[:length]
            size = -length  # llama.cpp answers how much room the piece needs

    # --- slots and their KV cache ---------------------------------------------------------
    def slot_for(self, prompt: list[int], *, free: list[int], reuse: bool) -> int:
        """The free slot whose cache shares most of the prompt; else the least recently used."""
        def score(slot: int) -> tuple[int, float]:
            shared = _common_prefix(self.cached[slot], prompt) if reuse else 0
            return shared, -self.last_used[slot]

        return max(free, key=score)

    def slot_keep_prefix(self, slot: int, prompt: list[int], *, reuse: bool) -> int:
        """Drop the slot's cache after what it shares with the prompt (all of it without
        reuse); return how many tokens it kept.

        At least the prompt's last token is decoded again: its logits give the first token.
        """
        shared = _common_prefix(self.cached[slot], prompt) if reuse else 0
        keep = min(shared, len(prompt) - 1)
        if not llama_cpp.llama_memory_seq_rm(self.memory, slot, keep, -1):
            keep = 0
            llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)
        del self.cached[slot][keep:]
        self.last_used[slot] = time.monotonic()
        return keep

    def slot_clear(self, slot: int) -> None:
        llama_cpp.llama_memory_seq_rm(self.memory, slot, -1, -1)
        self.cached[slot].clear()

    # --- decoding ---------------------------------------------------------------------------
    def batch_start(self) -> Batch:
        self.batch.clear()
        return self.batch

    def feed(self, batch: Batch, token: int, slot: int, logits: bool) -> int:
        index = batch.add(token, len(self.cached[slot]), slot, logits)
        self.cached[slot].append(token)
        return index

    def decode(self, batch: Batch) -> None:
        status = llama_cpp.llama_decode(self.ctx, batch.raw)
        if status != 0:
            raise BackendError(f"llama_decode failed with status {status}")

    # --- sampling ---------------------------------------------------------------------------
    def sampler_chain(self, request: GenerationRequest, prompt: list[int]):
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = lambda sampler: llama_cpp.llama_sampler_chain_add(chain, sampler)  # noqa: E731
        if request.json_output:  # only tokens that keep the reply valid JSON
            add(self._json_grammar())
        if request.repeat_penalty != 1.0:
            penalties = llama_cpp.llama_sampler_init_penalties(
                self.n_vocab, PENALTY_LAST_N, request.repeat_penalty, 0.0, 0.0)
            for token in prompt[-PENALTY_LAST_N:]:
                # The penalty counts the prompt too; the grammar must not see it.
                llama_cpp.llama_sampler_accept(penalties, token)
            add(penalties)
        if request.temperature <= 0:
            add(llama_cpp.llama_sampler_init_greedy())
        else:
            add(llama_cpp.llama_sampler_init_top_k(request.top_k))
            add(llama_cpp.llama_sampler_init_top_p(request.top_p, 1))
            add(llama_cpp.llama_sampler_init_min_p(request.min_p, 1))
            add(llama_cpp.llama_sampler_init_temp(request.temperature))
            seed = llama_cpp.LLAMA_DEFAULT_SEED if request.seed is None else request.seed
            add(llama_cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _json_grammar(self):
        from llama_cpp.llama_grammar import JSON_GBNF

        grammar = llama_cpp.llama_sampler_init_grammar(self.vocab, JSON_GBNF.encode(), b"root")
        if not grammar:
            raise BackendError("llama.cpp could not build the JSON grammar", permanent=True)
        return grammar

    def sample(self, chain, index: int) -> int:
        return llama_cpp.llama_sampler_sample(chain, self.ctx, index)

    def sampler_free(self, chain) -> None:
        llama_cpp.llama_sampler_free(chain)

    def log_distribution(self, index: int) -> Distribution:
        """The model's own next-token distribution at a batch index.

        Read before sampling: it is what the model predicted, whatever the sampler picks.
        """
        pointer = llama_cpp.llama_get_logits_ith(self.ctx, index)
        # Kept as float32 logits and their log-sum-exp, not as a float64 log-softmax of
        # the whole vocabulary: the chat page asks for logprobs on every token, and each
        # pass over a 49k vocabulary costs about 1% of the demo model's decode step
        # (bench.logprobs: 0.90 of the speed without logprobs before, 0.96 now).
        view = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        shifted = view - view.max()
        log_total = math.log(float(np.exp(shifted, out=self._scratch).sum()))
        return Distribution(shifted, log_total)

    def token_logprob(self, distribution: Distribution, token: int, top: int) -> TokenLogprob:
        logits, log_total = distribution.logits, distribution.log_total
        best = distribution.best(top) if top else ()
        return TokenLogprob(
            token=self.text_of(token),
            logprob=float(logits[token]) - log_total,
            top=tuple((self.text_of(t), float(logits[t]) - log_total) for t in best),
        )

    def text_of(self, token) -> str:
        # Cached: the same few thousand tokens come back as alternatives step after step.
        token = int(token)
        text = self._texts.get(token)
        if text is None:
            text = self._texts[token] = self.piece(token).decode("utf-8", errors="replace")
        return text


def thread_count(spec: ModelSpec) -> int:
    # llama.cpp's default is 4 threads whatever the machine: on 2 cores its OpenMP team
    # then waits on descheduled threads at every step. A worker box is the engine's.
    return spec.n_threads or os.cpu_count() or 1


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _drop_oldest_turn(messages: list[dict[str, str]]) -> bool:
    """Remove the oldest message with the replies that follow it (templates that want user
    and assistant turns to alternate would refuse a lone reply first). Never the last
    message, never a system message; False when nothing could go."""
    first = next((index for index, message in enumerate(messages[:-1])
                  if message.get("role") != "system"), None)
    if first is None:
        return False
    del messages[first]
    while first < len(messages) - 1 and messages[first].get("role") == "assistant":
        del messages[first]
    return True
