"""The local backend: llama.cpp engines hosted in this worker process."""
import threading
from collections.abc import Iterator

from inference.backends import Backend
from inference.embedding import EmbeddingEngine
from inference.engine import LlamaEngine
from inference.types import GenerationEvent, GenerationRequest, ModelSpec


class LlamaCppBackend(Backend):
    def __init__(self) -> None:
        self._engines: dict[tuple[str, type], LlamaEngine | EmbeddingEngine] = {}
        self._lock = threading.Lock()

    def engine_for(self, spec: ModelSpec, kind: type = LlamaEngine):
        # Loaded on first use and kept: a worker pays the load once per model. A model
        # whose file or settings changed gets a new engine; the old one is freed.
        with self._lock:
            engine = self._engines.get((spec.name, kind))
            if engine is None or engine.spec != spec:
                if engine is not None:
                    engine.close()
                engine = self._engines[spec.name, kind] = kind(spec)
            return engine

    def stream(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        return self.engine_for(request.model).generate(request)

    def embed(self, spec: ModelSpec, texts: list[str]) -> tuple[list[list[float]], int]:
        return self.engine_for(spec, EmbeddingEngine).embed(texts)

    def load(self, spec: ModelSpec) -> None:
        self.engine_for(spec).wait_loaded()

    def unload(self, model_name: str) -> None:
        with self._lock:
            for key in [key for key in self._engines if key[0] == model_name]:
                self._engines.pop(key).close()
