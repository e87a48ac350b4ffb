"""The local backend: llama.cpp engines hosted in this worker process."""
import threading
from collections.abc import Iterator

from inference.backends import Backend
from inference.engine import LlamaEngine
from inference.types import GenerationEvent, GenerationRequest, ModelSpec


class LlamaCppBackend(Backend):
    def __init__(self) -> None:
        self._engines: dict[ModelSpec, LlamaEngine] = {}
        self._lock = threading.Lock()

    def engine_for(self, spec: ModelSpec) -> LlamaEngine:
        # Loaded on first use and kept: a worker pays the load once per model.
        with self._lock:
            if spec not in self._engines:
                self._engines[spec] = LlamaEngine(spec)
            return self._engines[spec]

    def stream(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        return self.engine_for(request.model).generate(request)
