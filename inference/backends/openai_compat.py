"""Backends for OpenAI-compatible servers: OpenAI, OpenRouter, vLLM, llama.cpp's server...

Server-sent events of chat or text completions, read into TextChunks; the plumbing they
share with the Ollama backend is in inference.backends.remote.
"""
from collections.abc import Iterator
from dataclasses import dataclass

from inference.backends import BackendError
from inference.backends.remote import (
    SHAPE_ERRORS,
    RemoteBackend,
    ReplyTally,
    best,
    json_object,
    remote_error,
    token_logprobs,
    unexpected_reply,
)
from inference.types import (
    Completion,
    GenerationEvent,
    GenerationRequest,
    ModelSpec,
    TextChunk,
    TokenLogprob,
)


@dataclass
class _OpenAIReply:
    """Reads the chunks of one streamed chat or text completion."""

    chat: bool
    top: int | None  # alternatives wanted per token; None: no logprobs asked
    tally: ReplyTally
    finish_reason: str | None = None
    usage: tuple[int, int, int] | None = None  # prompt, completion, cached prompt tokens

    def read(self, chunk: dict) -> TextChunk | None:
        if chunk.get("usage"):
            self.usage = usage_counts(chunk["usage"])
        if not chunk.get("choices"):
            return None  # the usage chunk comes with an empty list of choices
        choice = chunk["choices"][0]
        if choice.get("finish_reason"):
            self.finish_reason = "length" if choice["finish_reason"] == "length" else "stop"
        text = ((choice.get("delta") or {}).get("content") if self.chat else choice.get("text"))
        text = text or ""
        logprobs = self.logprobs(choice.get("logprobs")) if self.top is not None else ()
        if not text and not logprobs:
            return None
        self.tally.text_arrived()
        return TextChunk(text, logprobs)

    def logprobs(self, logprobs: dict | None) -> tuple[TokenLogprob, ...]:
        if not logprobs:
            return ()
        if self.chat:
            return token_logprobs(logprobs.get("content") or (), self.top)
        return tuple(  # the legacy shape: parallel lists, alternatives as {token: logprob}
            TokenLogprob(token, float(logprob), best((alts or {}).items(), self.top))
            for token, logprob, alts in zip(
                logprobs["tokens"], logprobs["token_logprobs"],
                logprobs.get("top_logprobs") or [None] * len(logprobs["tokens"]), strict=True,
            )
        )

    def completion(self, base_url: str) -> Completion:
        if self.finish_reason is None:
            # llama.cpp's server ends a reply so when another request comes in (its
            # --interrupt_requests, on by default): a cut reply must not pass for a whole one.
            raise BackendError(f"{base_url} ended the reply without a finish reason")
        # llama.cpp's server ignores stream_options and sends no usage: count chunks as
        # tokens then (such servers send one token per chunk); the prompt's size is unknown.
        prompt, completion, cached = self.usage or (0, self.tally.chunks, 0)
        return Completion(self.finish_reason, prompt, completion, self.tally.decode_seconds(),
                          cached_tokens=cached)


def usage_counts(usage: dict) -> tuple[int, int, int]:
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return int(usage.get("prompt_tokens") or 0), int(usage["completion_tokens"]), int(cached)


def sse_data(line: str, base_url: str) -> str | None:
    """The payload of an SSE ``data:`` line; None for blank lines, comments (keep-alives,
    OpenRouter's "PROCESSING") and the other SSE fields."""
    if not line or line.startswith(":"):
        return None
    name, colon, value = line.partition(":")
    if name in ("event", "id", "retry"):
        return None
    if name != "data" or not colon:
        raise unexpected_reply(line, base_url)
    return value.removeprefix(" ")


class OpenAIBackend(RemoteBackend):
    """Any server that speaks OpenAI's /chat/completions and /completions with SSE."""

    default_base_url = "https://api.openai.com/v1"

    def request_body(self, request: GenerationRequest) -> tuple[str, dict]:
        # max_tokens, not max_completion_tokens: every compatible server knows the former.
        body = {
            "model": request.model.remote_name or request.model.name,
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
        } | self.sampling_extras(request)
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if request.prompt is not None:
            return "/completions", body | completion_fields(request)
        return "/chat/completions", body | chat_fields(request)

    def sampling_extras(self, request: GenerationRequest) -> dict:
        """Sampling settings beyond OpenAI's own; OpenAI refuses parameters it does not know."""
        return {}

    def read_reply(
        self, lines: Iterator[str], request: GenerationRequest, base_url: str
    ) -> Iterator[GenerationEvent]:
        tally = ReplyTally()
        reply = _OpenAIReply(chat=request.prompt is None, top=request.logprobs, tally=tally)
        for line in lines:
            if request.cancelled.is_set():
                yield tally.cancelled()
                return
            data = sse_data(line, base_url)
            if data == "[DONE]":
                yield reply.completion(base_url)
                return
            if data is not None:
                chunk = chunk_read(reply, data, base_url)
                if chunk is not None:
                    yield chunk
        raise BackendError(f"{base_url} closed the stream mid-reply")


def chunk_read(reply: _OpenAIReply, data: str, base_url: str) -> TextChunk | None:
    chunk = json_object(data, base_url)
    if "error" in chunk:  # OpenRouter and llama.cpp's server report late failures so
        raise remote_error(chunk, base_url)
    try:
        return reply.read(chunk)
    except SHAPE_ERRORS:
        raise unexpected_reply(data, base_url) from None


def chat_fields(request: GenerationRequest) -> dict:
    fields: dict = {"messages": request.messages}
    if request.logprobs is not None:
        fields |= {"logprobs": True, "top_logprobs": request.logprobs}
    if request.json_output:
        fields["response_format"] = {"type": "json_object"}
    return fields


def completion_fields(request: GenerationRequest) -> dict:
    # No response_format: OpenAI's legacy /completions refuses it.
    fields: dict = {"prompt": request.prompt}
    if request.logprobs is not None:
        fields["logprobs"] = request.logprobs
    return fields


class OpenRouterBackend(OpenAIBackend):
    """OpenRouter: OpenAI's protocol, its own sampling options, attribution headers."""

    default_base_url = "https://openrouter.ai/api/v1"
    attribution = {"HTTP-Referer": "https://github.com/llmhub/llmhub", "X-Title": "llmhub"}

    def request_headers(self, spec: ModelSpec) -> dict[str, str]:
        given = {name.lower() for name, _ in spec.headers}
        defaults = {k: v for k, v in self.attribution.items() if k.lower() not in given}
        return defaults | super().request_headers(spec)

    def sampling_extras(self, request: GenerationRequest) -> dict:
        return {"top_k": request.top_k, "min_p": request.min_p,
                "repetition_penalty": request.repeat_penalty}
