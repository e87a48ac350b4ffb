"""A remote Ollama server: /api/chat, or /api/generate for raw prompts, streamed as NDJSON."""
from collections.abc import Iterator

from inference.backends import BackendError
from inference.backends.remote import (
    SHAPE_ERRORS,
    RemoteBackend,
    ReplyTally,
    json_object,
    remote_error,
    token_logprobs,
    unexpected_reply,
)
from inference.types import Completion, GenerationEvent, GenerationRequest, TextChunk

NANOSECONDS = 1e9


class OllamaBackend(RemoteBackend):
    default_base_url = "http://localhost:11434"

    def request_body(self, request: GenerationRequest) -> tuple[str, dict]:
        body: dict = {
            "model": request.model.remote_name or request.model.name,
            "stream": True,
            "options": ollama_options(request),
        }
        if request.json_output:
            body["format"] = "json"
        if request.logprobs is not None:
            body |= {"logprobs": True, "top_logprobs": request.logprobs}
        if request.prompt is not None:
            # raw: the prompt goes to the model as is, without the model's chat template.
            return "/api/generate", body | {"prompt": request.prompt, "raw": True}
        return "/api/chat", body | {"messages": request.messages}

    def read_reply(
        self, lines: Iterator[str], request: GenerationRequest, base_url: str
    ) -> Iterator[GenerationEvent]:
        tally = ReplyTally()
        for line in lines:
            if request.cancelled.is_set():
                yield tally.cancelled()
                return
            if not line.strip():
                continue
            events = line_events(line, request, tally, base_url)
            yield from events
            if events and isinstance(events[-1], Completion):
                return
        raise BackendError(f"{base_url} closed the stream mid-reply")


def ollama_options(request: GenerationRequest) -> dict:
    options = {
        "num_predict": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k,
        "min_p": request.min_p,
        "repeat_penalty": request.repeat_penalty,
    }
    if request.seed is not None:
        options["seed"] = request.seed
    if request.stop:
        options["stop"] = list(request.stop)
    return options


def line_events(
    line: str, request: GenerationRequest, tally: ReplyTally, base_url: str
) -> list[GenerationEvent]:
    """The TextChunk and, on the last line, the Completion that one NDJSON line carries."""
    data = json_object(line, base_url)
    if "error" in data:
        raise remote_error(data, base_url)
    try:
        return line_read(data, request, tally)
    except SHAPE_ERRORS:
        raise unexpected_reply(line, base_url) from None


def line_read(data: dict, request: GenerationRequest, tally: ReplyTally) -> list[GenerationEvent]:
    if request.prompt is None:
        text = (data.get("message") or {}).get("content") or ""
    else:
        text = data.get("response") or ""
    logprobs = ()
    if request.logprobs is not None:
        logprobs = token_logprobs(data.get("logprobs") or (), request.logprobs)
    events: list[GenerationEvent] = []
    if text or logprobs:
        tally.text_arrived()
        events.append(TextChunk(text, logprobs))
    if data.get("done"):
        events.append(ollama_completion(data, tally))
    return events


def ollama_completion(data: dict, tally: ReplyTally) -> Completion:
    # Ollama leaves prompt_eval_count out when the whole prompt came from its cache.
    eval_ns = data.get("eval_duration")
    return Completion(
        "length" if data.get("done_reason") == "length" else "stop",
        int(data.get("prompt_eval_count") or 0),
        int(data.get("eval_count") or tally.chunks),
        eval_ns / NANOSECONDS if eval_ns else tally.decode_seconds(),
    )
