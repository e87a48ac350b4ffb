"""Embeddings: a model's pooled hidden state for a text, on a context of their own.

Pooling follows the GGUF (``<arch>.pooling_type``); a chat model, which sets none, is
mean-pooled, as Ollama does for /api/embed. Vectors are L2-normalised, as both the OpenAI
and the Ollama APIs return them.
"""
import math
import queue
import threading

import llama_cpp
from llama_cpp._internals import LlamaModel
from llama_cpp._logger import set_verbose

from inference.backends import BackendError
from inference.llama import Batch, thread_count
from inference.types import ModelSpec


class EmbeddingEngine:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name=f"embed:{spec.name}", daemon=True)
        self.thread.start()

    def embed(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """The texts' vectors and how many tokens they counted; BackendError on failure."""
        answer: queue.SimpleQueue = queue.SimpleQueue()
        self._jobs.put((texts, answer))
        result = answer.get()
        if isinstance(result, BackendError):
            raise result
        return result

    def close(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        try:
            self._load()
        except Exception as error:
            self._serve_failures(BackendError(f"could not load {self.spec.name}: {error}"))
            return
        while (job := self._jobs.get()) is not None:
            texts, answer = job
            try:
                answer.put(self._embed_all(texts))
            except BackendError as error:
                answer.put(error)
        self.batch.free()
        llama_cpp.llama_free(self.ctx)
        self.model.close()

    def _serve_failures(self, error: BackendError) -> None:
        while (job := self._jobs.get()) is not None:
            job[1].put(error)

    def _load(self) -> None:
        set_verbose(False)
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = self.spec.n_gpu_layers
        self.model = LlamaModel(path_model=self.spec.file_path, params=params, verbose=False)
        self.n_ctx = self.spec.context_length
        self.ctx = self._context(llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED)
        if llama_cpp.llama_pooling_type(self.ctx) == llama_cpp.LLAMA_POOLING_TYPE_NONE:
            llama_cpp.llama_free(self.ctx)
            self.ctx = self._context(llama_cpp.LLAMA_POOLING_TYPE_MEAN)
        self.batch = Batch(self.n_ctx)

    def _context(self, pooling: int):
        params = llama_cpp.llama_context_default_params()
        params.embeddings = True
        params.pooling_type = pooling
        # A text is embedded in one ubatch: pooling needs all of its tokens at once.
        params.n_ctx = params.n_batch = params.n_ubatch = self.n_ctx
        params.n_seq_max = 1
        params.n_threads = params.n_threads_batch = thread_count(self.spec)
        ctx = llama_cpp.llama_init_from_model(self.model.model, params)
        if ctx is None:
            raise BackendError(f"could not create an embedding context for {self.spec.name}")
        return ctx

    def _embed_all(self, texts: list[str]) -> tuple[list[list[float]], int]:
        vectors, counted = [], 0
        for text in texts:
            tokens = self.model.tokenize(text.encode("utf-8"), add_bos=True, special=False)
            if not tokens:
                raise BackendError(f"input {text!r} has no tokens to embed", permanent=True)
            if len(tokens) > self.n_ctx:
                raise BackendError(
                    f"input is {len(tokens)} tokens, model context is {self.n_ctx}", permanent=True
                )
            vectors.append(self._embed(tokens))
            counted += len(tokens)
        return vectors, counted

    def _embed(self, tokens: list[int]) -> list[float]:
        llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(self.ctx), -1, -1, -1)
        self.batch.clear()
        for position, token in enumerate(tokens):
            self.batch.add(token, position, 0, True)
        if llama_cpp.llama_decode(self.ctx, self.batch.raw) != 0:
            raise BackendError("llama_decode failed while embedding")
        pooled = llama_cpp.llama_get_embeddings_seq(self.ctx, 0)
        vector = [pooled[i] for i in range(self.model.n_embd())]
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]
