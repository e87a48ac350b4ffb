"""What a backend is asked for and what it yields back; plain data, shared by all backends."""
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModelSpec:
    name: str
    backend: str
    file_path: str
    context_length: int
    n_threads: int = 0  # 0: one per CPU core
    n_gpu_layers: int = 0
    slots: int = 1  # sequences decoded together, each with context_length tokens
    # Remote backends (OpenAI, OpenRouter, Ollama): where, as which model, with what key.
    base_url: str = ""
    remote_name: str = ""  # the model's name on the remote server
    api_key_env: str = ""  # environment variable on the worker that holds the key
    headers: tuple[tuple[str, str], ...] = ()  # extra request headers (attribution...)
    timeout_seconds: float = 60.0  # longest wait for the remote's next bytes


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
    stop: tuple[str, ...] = ()
    logprobs: int | None = None  # how many alternatives to report per token, when asked
    prompt: str | None = None  # raw text completion: the prompt as is, no chat template
    json_output: bool = False  # constrain the reply to JSON where the backend can
    reuse_prefix: bool = True  # start from a slot's cached KV when the prompt shares it
    # A chat's context length: the oldest turns are left out until the prompt and room for
    # the reply fit in this many tokens (local backends; None: the model's whole context).
    context_window: int | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: tuple[tuple[str, float], ...]  # the most likely tokens at that step, best first


@dataclass(frozen=True)
class TextChunk:
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()


@dataclass(frozen=True)
class Completion:
    finish_reason: str  # "stop" (end of turn or a stop string), "length" or "cancelled"
    prompt_tokens: int
    completion_tokens: int
    decode_seconds: float
    cached_tokens: int = 0  # prompt tokens found in the slot's KV cache, not prefilled


GenerationEvent = TextChunk | Completion
