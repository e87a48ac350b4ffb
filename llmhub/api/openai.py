"""The OpenAI-compatible API under /v1: models, chat completions, completions, embeddings.

Wire formats as in OpenAI's API reference: SSE ``data: {json}`` chunks ending with
``data: [DONE]``, ``stream_options.include_usage`` adding a last chunk with ``usage`` and no
choices, errors as ``{"error": {"message", "type", "param", "code"}}``. Thin views: the
work is in llmhub.api.calls.
"""
import base64
import json
import struct
import time
from collections.abc import AsyncIterator, Callable

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

from chat.models import Message
from llmhub.api import fields
from llmhub.api.calls import (
    ApiCall,
    ApiError,
    api_view,
    call_begin,
    call_model,
    failure_status,
    generation_collect,
    generation_frames,
    generation_params,
    generation_submit,
    json_body,
    models_allowed,
    stream_headers,
)
from llmhub.api.embeddings import embeddings_compute

ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
FINISH_REASONS = {"stop": "stop", "length": "length", "cancelled": "stop", "error": "stop"}


def openai_error(error: ApiError) -> JsonResponse:
    body = {"error": {"message": error.message, "type": error.kind, "param": error.param,
                      "code": error.code}}
    return JsonResponse(body, status=error.status)


openai_view = api_view(openai_error)


@openai_view("GET", "POST", "PUT", "PATCH", "DELETE")
async def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    raise ApiError(404, f"no such endpoint: {request.path}", code="unknown_url")


@openai_view("GET")
async def models_list(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/v1/models")
    models = await _sync(models_allowed)(call.key)
    return JsonResponse({"object": "list", "data": [_model_object(m) for m in models]})


@openai_view("GET")
async def model_retrieve(request: HttpRequest, name: str) -> HttpResponse:
    call = await call_begin(request, endpoint="/v1/models")
    models = {model.name: model for model in await _sync(models_allowed)(call.key)}
    if name not in models:
        raise ApiError(404, f"model '{name}' not found", kind="not_found_error", param="model")
    return JsonResponse(_model_object(models[name]))


def _model_object(model) -> dict:
    return {"id": model.name, "object": "model", "created": int(model.created_at.timestamp()),
            "owned_by": "llmhub"}


@openai_view("POST")
async def chat_completions(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/v1/chat/completions")
    body = json_body(request)
    model = await call_model(call, body.get("model"))
    messages = _chat_messages(body)
    params = _sampling(body, model) | {"messages": messages}
    top = fields.optional(body, "top_logprobs", int, minimum=0, maximum=20)
    if fields.optional(body, "logprobs", bool):
        params["logprobs"] = max(top or 0, 1)
    response_format = fields.optional(body, "response_format", dict) or {}
    if response_format.get("type") in ("json_object", "json_schema"):
        params["json_output"] = True
    elif response_format.get("type") not in (None, "text"):
        raise ApiError(400, "'response_format.type' must be text, json_object or json_schema",
                       param="response_format")
    stream, include_usage = _stream_options(body)
    reply = await generation_submit(call, params)
    shape = _ChatShape(reply, model.name, top or 0)
    if stream:
        return _sse(call, reply, shape, include_usage)
    final, logprobs = await generation_collect(call, reply)
    return _final_or_error(final, shape.whole(final, logprobs))


@openai_view("POST")
async def completions(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/v1/completions")
    body = json_body(request)
    model = await call_model(call, body.get("model"))
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str) or not prompt:
        raise ApiError(400, "'prompt' must be a non-empty string (one prompt per request)",
                       param="prompt")
    if fields.optional(body, "echo", bool):
        raise ApiError(400, "'echo' is not supported", param="echo")
    if body.get("suffix") not in (None, ""):
        raise ApiError(400, "'suffix' is not supported", param="suffix")
    params = _sampling(body, model) | {"prompt": prompt}
    top = fields.optional(body, "logprobs", int, minimum=0, maximum=5)
    if top is not None:
        params["logprobs"] = max(top, 1)
    stream, include_usage = _stream_options(body)
    reply = await generation_submit(call, params)
    shape = _CompletionShape(reply, model.name, top)
    if stream:
        return _sse(call, reply, shape, include_usage)
    final, logprobs = await generation_collect(call, reply)
    return _final_or_error(final, shape.whole(final, logprobs))


@openai_view("POST")
async def embeddings(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/v1/embeddings")
    body = json_body(request)
    await call_model(call, body.get("model"))
    texts = fields.texts(body, "input")
    encoding = body.get("encoding_format", "float")
    if encoding is None:
        encoding = "float"
    if encoding not in ("float", "base64"):
        raise ApiError(400, "'encoding_format' must be float or base64",
                       param="encoding_format")
    vectors, tokens = await embeddings_compute(call, texts)
    await _sync(_embedding_usage)(call, tokens)
    encode = _base64_floats if encoding == "base64" else list
    return JsonResponse({
        "object": "list", "model": call.model.name,
        "data": [{"object": "embedding", "index": i, "embedding": encode(v)}
                 for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def _base64_floats(vector: list[float]) -> str:
    # The SDK asks for base64 by default: little-endian float32, as OpenAI sends them.
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


def _embedding_usage(call: ApiCall, tokens: int) -> None:
    from llmhub.api.limits import limits_count_tokens
    from llmhub.api.usage import usage_record

    usage_record(user=call.key.owner, api_key=call.key, model_name=call.model.name,
                 endpoint=call.endpoint, prompt_tokens=tokens, completion_tokens=0,
                 duration_ms=round((time.perf_counter() - call.started) * 1000),
                 outcome="done")
    limits_count_tokens(call.key, tokens)


# --- request fields ---------------------------------------------------------------------

def _chat_messages(body: dict) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array", param="messages")
    return [_chat_message(message, index) for index, message in enumerate(messages)]


def _chat_message(message: object, index: int) -> dict[str, str]:
    param = f"messages[{index}]"
    role = message.get("role") if isinstance(message, dict) else None
    if not isinstance(role, str) or role not in ROLES:
        raise ApiError(400, f"'{param}' must be an object whose role is one of "
                            f"{', '.join(ROLES)}", param=param)
    content = message.get("content")
    if isinstance(content, list):  # content parts: only text ones
        if not all(isinstance(p, dict) and p.get("type") == "text"
                   and isinstance(p.get("text"), str) for p in content):
            raise ApiError(400, f"'{param}.content' parts must be text parts", param=param)
        content = "".join(part["text"] for part in content)
    if content is None and message["role"] == "assistant":
        content = ""
    if not isinstance(content, str):
        raise ApiError(400, f"'{param}.content' must be a string or text parts", param=param)
    return {"role": ROLES[message["role"]], "content": content}


def _sampling(body: dict, model) -> dict:
    if fields.optional(body, "n", int, minimum=1, maximum=1) not in (None, 1):
        raise ApiError(400, "'n' must be 1", param="n")
    max_tokens = fields.optional(body, "max_completion_tokens", int, minimum=1)
    if max_tokens is None:
        max_tokens = fields.optional(body, "max_tokens", int, minimum=1)
    return generation_params(
        max_tokens=max_tokens, model=model,
        temperature=fields.optional(body, "temperature", float, minimum=0, maximum=2),
        top_p=fields.optional(body, "top_p", float, minimum=0, maximum=1),
        seed=fields.optional(body, "seed", int),
        stop=fields.stop_strings(body, "stop", most=4),
    )


def _stream_options(body: dict) -> tuple[bool, bool]:
    """Whether to stream, and whether a last chunk carries the usage; checked before the
    generation is queued, so a wrong value costs nothing."""
    stream = bool(fields.optional(body, "stream", bool))
    options = fields.optional(body, "stream_options", dict) or {} if stream else {}
    return stream, bool(fields.optional(options, "include_usage", bool))


# --- responses ----------------------------------------------------------------------------

class _ChatShape:
    """chat.completion and chat.completion.chunk objects for one reply."""

    def __init__(self, reply: Message, model_name: str, top: int) -> None:
        self.id, self.model, self.top = f"chatcmpl-{reply.pk}", model_name, top
        self.created = int(time.time())

    def _base(self, kind: str) -> dict:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "system_fingerprint": None}

    def whole(self, final: dict, logprobs: list) -> dict:
        choice = {"index": 0, "message": {"role": "assistant", "content": final["text"],
                                          "refusal": None},
                  "logprobs": self._logprobs(logprobs), "finish_reason": _finish(final)}
        return self._base("chat.completion") | {"choices": [choice], "usage": _usage(final)}

    def first_chunk(self) -> dict:
        return self._chunk({"role": "assistant", "content": ""}, None, None)

    def delta_chunk(self, frame: dict) -> dict:
        return self._chunk({"content": frame["text"]}, None, frame.get("logprobs"))

    def last_chunk(self, final: dict) -> dict:
        return self._chunk({}, _finish(final), None)

    def _chunk(self, delta: dict, finish: str | None, logprobs: list | None) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": self._logprobs(logprobs),
                  "finish_reason": finish}
        return self._base("chat.completion.chunk") | {"choices": [choice]}

    def _logprobs(self, entries: list | None) -> dict | None:
        if not entries:
            return None
        return {"content": [
            {"token": token, "logprob": logprob, "bytes": list(token.encode()),
             "top_logprobs": [{"token": alt, "logprob": lp, "bytes": list(alt.encode())}
                              for alt, lp in top[:self.top]]}
            for token, logprob, top in entries], "refusal": None}


class _CompletionShape:
    """text_completion objects (the same object streams, in pieces)."""

    def __init__(self, reply: Message, model_name: str, top: int | None) -> None:
        self.id, self.model, self.top = f"cmpl-{reply.pk}", model_name, top
        self.created = int(time.time())

    def _object(self, text: str, finish: str | None, logprobs: list | None) -> dict:
        choice = {"text": text, "index": 0, "logprobs": self._logprobs(logprobs),
                  "finish_reason": finish}
        return {"id": self.id, "object": "text_completion", "created": self.created,
                "model": self.model, "system_fingerprint": None, "choices": [choice]}

    def whole(self, final: dict, logprobs: list) -> dict:
        return self._object(final["text"], _finish(final), logprobs) | {"usage": _usage(final)}

    def first_chunk(self) -> None:
        return None

    def delta_chunk(self, frame: dict) -> dict:
        return self._object(frame["text"], None, frame.get("logprobs"))

    def last_chunk(self, final: dict) -> dict:
        return self._object("", _finish(final), None)

    def _logprobs(self, entries: list | None) -> dict | None:
        if self.top is None or not entries:
            return None
        offsets, at = [], 0
        for token, _, _ in entries:
            offsets.append(at)
            at += len(token)
        return {"tokens": [token for token, _, _ in entries],
                "token_logprobs": [logprob for _, logprob, _ in entries],
                "top_logprobs": [dict(top[:self.top]) for _, _, top in entries],
                "text_offset": offsets}


def _finish(final: dict) -> str:
    return FINISH_REASONS.get(final.get("finish_reason") or "stop", "stop")


def _usage(final: dict) -> dict:
    prompt, completion = final.get("prompt_tokens") or 0, final.get("completion_tokens") or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def _final_or_error(final: dict, whole: dict) -> JsonResponse:
    if final["status"] == "failed":
        status = failure_status(final["error"])
        return openai_error(ApiError(status, final["error"] or "the generation failed",
                                     kind="invalid_request_error" if status == 400
                                     else "server_error"))
    return JsonResponse(whole)


def _sse(call: ApiCall, reply: Message, shape, include_usage: bool) -> StreamingHttpResponse:
    async def events() -> AsyncIterator[str]:
        first = shape.first_chunk()
        if first is not None:
            yield _event(first | ({"usage": None} if include_usage else {}))
        async for frame in generation_frames(call, reply):
            if frame["type"] == "delta":
                yield _event(shape.delta_chunk(frame) | ({"usage": None} if include_usage
                                                           else {}))
                continue
            if frame["status"] == "failed":
                yield _event({"error": {"message": frame["error"], "type": "server_error",
                                        "param": None, "code": None}})
            else:
                yield _event(shape.last_chunk(frame) | ({"usage": None} if include_usage
                                                        else {}))
                if include_usage:
                    yield _event(shape.last_chunk(frame) | {"choices": [],
                                                            "usage": _usage(frame)})
        yield "data: [DONE]\n\n"

    return StreamingHttpResponse(events(), content_type="text/event-stream",
                                 headers=stream_headers())


def _event(payload: dict) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def _sync(function: Callable) -> Callable:
    from asgiref.sync import sync_to_async

    return sync_to_async(function)
