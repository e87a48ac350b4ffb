"""Backends share one streaming interface; each is named by a dotted path, imported on use."""
import importlib
from collections.abc import Iterator
from functools import cache

from inference.types import GenerationEvent, GenerationRequest, ModelSpec

BACKENDS = {
    "llamacpp": "inference.backends.llamacpp.LlamaCppBackend",
    "openai": "inference.backends.openai_compat.OpenAIBackend",
    "openrouter": "inference.backends.openai_compat.OpenRouterBackend",
    "ollama": "inference.backends.ollama.OllamaBackend",
}


class BackendError(Exception):
    """A generation could not run; ``message`` is shown to the user as the reason."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Backend:
    def stream(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        """Yield TextChunks as text is produced, then exactly one Completion."""
        raise NotImplementedError

    def embed(self, spec: ModelSpec, texts: list[str]) -> tuple[list[list[float]], int]:
        """One normalised vector per text, and the tokens they counted."""
        raise NotImplementedError

    def load(self, spec: ModelSpec) -> None:
        """Get ready to serve ``spec`` (a local backend loads its weights); may do nothing."""

    def unload(self, model_name: str) -> None:
        """Free what serving ``model_name`` holds; may do nothing."""


@cache
def backend_get(name: str) -> Backend:
    """One backend instance per process: it owns the engines it has loaded."""
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}", permanent=True)
    module_path, _, class_name = BACKENDS[name].rpartition(".")
    return getattr(importlib.import_module(module_path), class_name)()
