"""What the OpenAI and Ollama APIs share: authenticate a call, admit it under its key's
limits, queue its generation (the chat page's task and stream, DESIGN.md invariant 1),
relay the stream, and record usage, also for a failed or cancelled call.

Each API wraps these in its own wire format and error shape (``ApiError`` carries what
both need: status, message, and a kind that OpenAI's error type is named after).
"""
import json
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import wraps

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from chat.models import Message
from chat.services import api_generation_start, generation_cancel, generation_check
from inference.streams import FinalFrame, generation_stream_read
from llmhub.api.keys import ApiAuthError, api_key_allows_model, api_key_authenticate
from llmhub.api.limits import RateLimited, limits_admit, limits_count_tokens
from llmhub.api.models import ApiKey
from llmhub.api.quotas import QuotaExceeded, quota_check
from llmhub.api.usage import usage_record
from llmhub.redis import redis_async_client
from models_registry.models import Model
from models_registry.selectors import model_list_for_user

IDLE_CHECK_MS = 5000  # after this long without a frame, ask the reaper about the reply
# Calls that name a model but spend no tokens, so a spent quota does not refuse them. Any
# other endpoint is checked: one added later is under the quota until it is listed here.
TOKENLESS_ENDPOINTS = frozenset({"/api/show", "/api/pull", "/api/delete"})


class ApiError(Exception):
    """A refusal in the API's own shape: status, message, and the kind of error."""

    def __init__(self, status: int, message: str, *, kind: str = "invalid_request_error",
                 param: str | None = None, headers: dict[str, str] | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.param = status, message, kind, param
        self.headers, self.code = headers or {}, code


@dataclass
class ApiCall:
    key: ApiKey
    endpoint: str
    model: Model | None = None
    started: float = field(default_factory=time.perf_counter)
    recorded: bool = False


def api_view(render_error: Callable[[ApiError], HttpResponse]) -> Callable:
    """Decorator factory for an API's views: ``@api_view(render)("GET", ...)`` makes an
    async view CSRF-exempt (keys, not cookies), answers other methods with 405 and
    ``Allow``, and renders every ApiError with ``render``, recording the refused call."""

    def allowing(*methods: str) -> Callable:
        def decorate(view: Callable) -> Callable:
            @csrf_exempt
            @wraps(view)
            async def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
                try:
                    if request.method not in methods:
                        raise ApiError(405, f"{request.method} is not allowed here; use "
                                            f"{' or '.join(methods)}",
                                       headers={"Allow": ", ".join(methods)})
                    return await view(request, *args, **kwargs)
                except ApiError as error:
                    await call_refused(request, error)
                    response = render_error(error)
                    for name, value in error.headers.items():
                        response[name] = value
                    return response

            return wrapped

        return decorate

    return allowing


def json_body(request: HttpRequest) -> dict:
    """The request's JSON object, or an ApiError that says what is wrong with it."""
    try:
        raw = request.body
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
        raise ApiError(413, f"the request body is over {limit:.1f} MiB") from None
    try:
        body = json.loads(raw or b"null", parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        raise ApiError(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    if _has_nul(body):  # PostgreSQL stores no NUL character, in text or in JSON
        raise ApiError(400, "the body contains a NUL character (\\u0000)")
    return body


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


def _no_constant(name: str):
    # NaN and Infinity are not JSON; Python's parser takes them unless told not to.
    raise ValueError(f"{name} is not a JSON value")


async def call_begin(request: HttpRequest, *, endpoint: str) -> ApiCall:
    """Authenticate with the Bearer key."""
    try:
        key = await sync_to_async(api_key_authenticate)(request.headers.get("Authorization"))
    except ApiAuthError as error:
        raise ApiError(error.status, error.message, code="invalid_api_key") from None
    call = ApiCall(key=key, endpoint=endpoint)
    request.llmhub_call = call  # for call_refused, when the call ends in an ApiError
    return call


async def call_refused(request: HttpRequest, error: ApiError) -> None:
    """Record an authenticated call that ended in an ApiError (a malformed body...), unless
    it was recorded already; a call without a valid key has no one to record it for."""
    call = getattr(request, "llmhub_call", None)
    if call is None or call.recorded:
        return
    model_name = call.model.name if call.model else ""
    await sync_to_async(usage_record)(
        user=call.key.owner, api_key=call.key, model_name=model_name, endpoint=call.endpoint,
        prompt_tokens=0, completion_tokens=0,
        duration_ms=round((time.perf_counter() - call.started) * 1000),
        outcome="rate_limited" if error.status == 429 else "refused",
        error=f"{error.status}: {error.message}"[:200])
    call.recorded = True


async def call_model(call: ApiCall, model_name: object) -> Model:
    """The model the call names, if its key may use it, and admit the call under its
    owner's daily quota and the key's limits. An unknown model and a model the key may
    not use look the same."""
    if not isinstance(model_name, str) or not model_name:
        raise ApiError(400, "'model' is required and must be a string", param="model")
    model = await sync_to_async(_model_allowed)(call.key, model_name)
    if model is None:
        await _refused(call, model_name, 404, "refused")
        raise ApiError(404, f"model '{model_name}' not found", param="model",
                       code="model_not_found")
    call.model = model
    await _quota_admit(call)
    try:
        await sync_to_async(limits_admit)(call.key)
    except RateLimited as error:
        await _refused(call, model_name, 429, "rate_limited")
        raise ApiError(429, error.message, kind="requests", code="rate_limit_exceeded",
                       headers={"Retry-After": str(error.retry_after_seconds)}) from None
    return model


async def _quota_admit(call: ApiCall) -> None:
    """Refuse the call when the key's owner has spent today's tokens: 429, as OpenAI
    answers a spent quota, with Retry-After pointing at midnight UTC. Checked before the
    per-key limits, so that a refused call does not use up the key's minute."""
    if call.endpoint in TOKENLESS_ENDPOINTS:
        return
    try:
        await sync_to_async(quota_check)(user=call.key.owner)
    except QuotaExceeded as error:
        # Recorded by api_view as rate_limited, with this message to tell it from the key's.
        raise ApiError(429, error.messages[0], kind="insufficient_quota",
                       code="insufficient_quota",
                       headers={"Retry-After": str(error.retry_after_seconds)}) from None


def _model_allowed(key: ApiKey, name: str) -> Model | None:
    """The enabled model of that name if both the key's list and its owner's groups let
    the key use it."""
    model = model_list_for_user(key.owner).filter(name=name).first()
    if model is None or not api_key_allows_model(key, name):
        return None
    return model


def models_allowed(key: ApiKey) -> list[Model]:
    return [model for model in model_list_for_user(key.owner)
            if api_key_allows_model(key, model.name)]


async def _refused(call: ApiCall, model_name: str, status: int, outcome: str) -> None:
    await sync_to_async(usage_record)(
        user=call.key.owner, api_key=call.key, model_name=model_name, endpoint=call.endpoint,
        prompt_tokens=0, completion_tokens=0, duration_ms=0, outcome=outcome,
        error=str(status))
    call.recorded = True


async def generation_submit(call: ApiCall, params: dict) -> Message:
    return await sync_to_async(api_generation_start)(
        owner=call.key.owner, model=call.model, params=params, endpoint=call.endpoint)


async def generation_frames(call: ApiCall, reply: Message) -> AsyncIterator[dict]:
    """The reply's frames until its final one. If the client goes away first (the view
    is cancelled), the generation is cancelled too, and usage says so."""
    client = redis_async_client()
    final: FinalFrame | None = None
    try:
        async for frame in generation_stream_read(client, reply.pk, block_ms=IDLE_CHECK_MS):
            if frame is None:  # idle: a dead worker's reply is ended by the reaper
                await sync_to_async(generation_check)(reply=reply)
                continue
            if frame["type"] == "final":
                final = frame
                # Recorded before the last frame goes out: once the client has it, it may
                # hang up, and this generator is then closed only when collected.
                await sync_to_async(_usage_finish)(call, final)
            yield frame
    finally:
        if final is None:
            await sync_to_async(generation_cancel)(reply=reply)
        await client.aclose()
        await sync_to_async(_usage_finish)(call, final)


def _usage_finish(call: ApiCall, final: FinalFrame | None) -> None:
    if call.recorded:
        return
    call.recorded = True
    prompt = (final or {}).get("prompt_tokens") or 0
    completion = (final or {}).get("completion_tokens") or 0
    usage_record(
        user=call.key.owner, api_key=call.key, model_name=call.model.name,
        endpoint=call.endpoint, prompt_tokens=prompt, completion_tokens=completion,
        duration_ms=round((time.perf_counter() - call.started) * 1000),
        outcome=final["status"] if final else "cancelled",
        error=(final or {}).get("error", "")[:200] if final else "client disconnected")
    if prompt + completion:
        limits_count_tokens(call.key, prompt + completion)


async def generation_collect(call: ApiCall, reply: Message) -> tuple[FinalFrame, list]:
    """Wait for the whole reply (non-streaming calls): its final frame and logprobs."""
    logprobs: list = []
    final = None
    async for frame in generation_frames(call, reply):
        if frame["type"] == "delta":
            logprobs.extend(frame.get("logprobs") or [])
        else:
            final = frame
    return final, logprobs


PROMPT_TOO_LONG = re.compile(r"^(prompt|input) .* tokens, model context is \d+")


def failure_status(error: str) -> int:
    """A prompt over the context is the caller's mistake (400); other failures are 502."""
    return 400 if PROMPT_TOO_LONG.match(error or "") else 502


def generation_params(*, max_tokens, model: Model, **options) -> dict:
    """Message.params for a call: its options, with max_tokens within the model's context."""
    limit = max_tokens if max_tokens is not None else model.max_tokens
    return {"max_tokens": min(limit, model.context_length), **{
        name: value for name, value in options.items() if value is not None}}


def stream_headers() -> dict[str, str]:
    # Behind nginx a streamed body is buffered unless told not to.
    return {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
