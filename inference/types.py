"""What a backend is asked for and what it yields back; plain data, shared by all backends."""
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    name: str
    backend: str
    file_path: str
    context_length: int
    n_threads: int = 0  # 0: llama.cpp picks
    n_gpu_layers: int = 0


@dataclass
class GenerationRequest:
    model: ModelSpec
    messages: list[dict[str, str]]
    max_tokens: int = 512
    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.0
    seed: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class Completion:
    finish_reason: str  # "stop", "length" or "cancelled"
    prompt_tokens: int
    completion_tokens: int
    decode_seconds: float


GenerationEvent = TextChunk | Completion
