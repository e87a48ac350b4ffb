"""The baseline: a bare greedy decode loop on llama-cpp-python's low-level API.

No queues, no threads, no text: one context (``n_seq_max`` = 8), the prompts prefilled one
sequence at a time, then one ``llama_decode`` per step carrying the next token of every
sequence still running, and a greedy sampler reading each sequence's logits row. This is
the most a Python engine on this API can hope for, so the engine is measured against it.
A sequence stops at an end-of-generation token or at ``max_tokens``, as the engine's do.

Each run decodes on a thread of its own that ends with the run. llama.cpp's CPU backend
here is built with OpenMP: the first thread to call ``llama_decode`` gets a team of worker
threads that lives as long as that thread does, and while one thread's idle team exists,
``llama_decode`` on any other thread of the process (the engine's) ran 35-45% slower on the
2-core machine (libgomp seems to stop spinning at its barriers once its threads outnumber
the cores; ggml's barriers are OpenMP barriers). Run on the main thread, the bare loop
would slow every engine run measured after it.
"""
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.timing import ConcurrentRun, StreamTiming


class BareLoop:
    def __init__(self, model_path: Path, *, n_ctx: int, n_batch: int, n_seq_max: int,
                 n_threads: int) -> None:
        import llama_cpp
        from llama_cpp import _logger

        _logger.set_verbose(False)  # llama.cpp's load chatter would bury the tables
        llama_cpp.llama_backend_init()
        self.n_batch, self.n_seq_max = n_batch, n_seq_max
        self.model = llama_cpp.llama_model_load_from_file(
            str(model_path).encode(), llama_cpp.llama_model_default_params()
        )
        if not self.model:
            raise RuntimeError(f"llama.cpp could not load {model_path}")
        params = llama_cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_seq_max = n_ctx, n_batch, n_seq_max
        params.n_threads = params.n_threads_batch = n_threads
        params.kv_unified = False  # each sequence its own n_ctx / n_seq_max cells, as the engine
        # Off, as in llama-cpp-python's Llama and the engine: flash attention sums the floats
        # in another order, and the greedy replies would then differ from theirs.
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create a context")
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        # Room for a prompt chunk of n_batch tokens, one sequence id per token.
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.sampler = llama_cpp.llama_sampler_chain_init(
            llama_cpp.llama_sampler_chain_default_params()
        )
        llama_cpp.llama_sampler_chain_add(self.sampler, llama_cpp.llama_sampler_init_greedy())

    def close(self) -> None:
        import llama_cpp

        llama_cpp.llama_sampler_free(self.sampler)
        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)

    # --- one decode call ------------------------------------------------------------------
    def _put(self, index: int, token: int, pos: int, seq: int, wants_logits: bool) -> None:
        batch = self.batch
        batch.token[index] = token
        batch.pos[index] = pos
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = seq
        batch.logits[index] = wants_logits

    def _decode(self, n_tokens: int) -> None:
        import llama_cpp

        self.batch.n_tokens = n_tokens
        status = llama_cpp.llama_decode(self.ctx, self.batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")

    def _sample(self, index: int) -> int:
        import llama_cpp

        # Greedy: the argmax of llama_get_logits_ith(ctx, index), done in C.
        return llama_cpp.llama_sampler_sample(self.sampler, self.ctx, index)

    def _is_end(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    # --- a run ----------------------------------------------------------------------------
    def clear(self) -> None:
        import llama_cpp

        llama_cpp.llama_memory_seq_rm(self.memory, -1, -1, -1)  # every sequence, every pos

    def _prefill(self, seq: int, prompt: list[int]) -> int:
        """Feed one prompt in n_batch chunks; return its first generated token."""
        for start in range(0, len(prompt), self.n_batch):
            chunk = prompt[start:start + self.n_batch]
            for offset, token in enumerate(chunk):
                is_last = start + offset == len(prompt) - 1
                self._put(offset, token, start + offset, seq, is_last)
            self._decode(len(chunk))
        return self._sample(len(chunk) - 1)

    def run(self, prompts: list[list[int]], *, max_tokens: int,
            to_text: Callable[[list[int]], str]) -> ConcurrentRun:
        """Generate for all prompts together, greedy; one sequence id per prompt.

        ``to_text`` detokenizes each reply once the clock has stopped (for comparing replies).
        The run decodes on a thread of its own (see the module's docstring for why).
        """
        outcome: list = []

        def work() -> None:
            try:
                outcome.append(self._run(prompts, max_tokens=max_tokens, to_text=to_text))
            except BaseException as error:  # handed to the caller's thread
                outcome.append(error)

        worker = threading.Thread(target=work, name="bare-loop")
        worker.start()
        worker.join()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        return outcome[0]

    def _run(self, prompts: list[list[int]], *, max_tokens: int,
             to_text: Callable[[list[int]], str]) -> ConcurrentRun:
        if len(prompts) > self.n_seq_max:
            raise ValueError(f"{len(prompts)} prompts, the context holds {self.n_seq_max}")
        self.clear()
        firsts = [self._prefill(seq, prompt) for seq, prompt in enumerate(prompts)]
        started = time.perf_counter()  # every prompt is in: the decode phase starts here
        generated: list[list[int]] = [[] for _ in prompts]
        last_at: list[float | None] = [None] * len(prompts)
        running = []
        for seq, token in enumerate(firsts):
            if not self._is_end(token):
                generated[seq].append(token)
                last_at[seq] = started
                if max_tokens > 1:
                    running.append(seq)
        while running:
            running = self._step(running, prompts, generated, last_at, max_tokens)
        return ConcurrentRun(tuple(
            StreamTiming(tokens=len(tokens), first_at=started if tokens else None,
                         last_at=last_at[seq], end_at=last_at[seq] or started,
                         text=to_text(tokens),
                         prompt_tokens=len(prompts[seq]))
            for seq, tokens in enumerate(generated)
        ))

    def _step(self, running: list[int], prompts, generated, last_at, max_tokens) -> list[int]:
        """One decode call with the last token of every running sequence."""
        for index, seq in enumerate(running):
            pos = len(prompts[seq]) + len(generated[seq]) - 1
            self._put(index, generated[seq][-1], pos, seq, True)
        self._decode(len(running))
        still = []
        for index, seq in enumerate(running):
            token = self._sample(index)
            if self._is_end(token):
                continue
            generated[seq].append(token)
            last_at[seq] = time.perf_counter()
            if len(generated[seq]) < max_tokens:
                still.append(seq)
        return still
