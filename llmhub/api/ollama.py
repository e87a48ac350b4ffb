"""The Ollama-compatible API under /api: version, tags, show, ps, chat, generate, embed,
and for admin keys pull and delete.

Wire format as in Ollama's API reference: NDJSON (one JSON object per line), streaming
unless ``"stream": false``, the last object with ``done: true``, ``done_reason`` and
durations in integer nanoseconds; errors as ``{"error": "..."}`` (mid-stream too).
"""
import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

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
from llmhub.api.keys import api_key_may_administer
from models_registry.models import Model

# The Ollama release whose API this follows; clients read it to know what they may call.
OLLAMA_VERSION = "0.12.0"
ROLES = ("system", "user", "assistant")
PULL_POLL_SECONDS = 0.5


def ollama_error(error: ApiError) -> JsonResponse:
    return JsonResponse({"error": error.message}, status=error.status)


ollama_view = api_view(ollama_error)


@ollama_view("GET", "POST", "PUT", "PATCH", "DELETE")
async def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    raise ApiError(404, f"no such endpoint: {request.path}")


@ollama_view("GET", "HEAD")
async def version(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"version": OLLAMA_VERSION})


@ollama_view("GET")
async def tags(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/api/tags")
    models = await sync_to_async(models_allowed)(call.key)
    return JsonResponse({"models": [_model_entry(model) for model in models]})


@ollama_view("GET")
async def running(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/api/ps")
    models = await sync_to_async(_running_models)(call.key)
    return JsonResponse({"models": [
        _model_entry(model) | {"expires_at": "0001-01-01T00:00:00Z", "size_vram": 0}
        for model in models]})


def _running_models(key) -> list[Model]:
    from models_registry.selectors import model_live_workers

    return [model for model in models_allowed(key)
            if model.backend == Model.Backend.LLAMACPP and model_live_workers(model.name)]


@ollama_view("POST")
async def show(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/api/show")
    body = json_body(request)
    model = await call_model(call, _model_field(body))
    metadata = model.metadata or {}
    architecture = metadata.get("architecture", model.backend)
    return JsonResponse({
        "modelfile": f"FROM {model.source or model.name}\n",
        "parameters": f"temperature {model.temperature}\nnum_ctx {model.context_length}",
        "template": metadata.get("chat_template", ""),
        "details": _details(model),
        "model_info": {"general.architecture": architecture,
                       "general.parameter_count": metadata.get("parameter_count", 0),
                       f"{architecture}.context_length": metadata.get("context_length", 0),
                       f"{architecture}.block_count": metadata.get("block_count", 0),
                       f"{architecture}.embedding_length": metadata.get("embedding_length", 0)},
        "capabilities": ["completion"],
        "modified_at": _timestamp(model.created_at),
    })


def _model_entry(model: Model) -> dict:
    return {"name": model.name, "model": model.name, "modified_at": _timestamp(model.created_at),
            "size": model.file_size, "digest": _digest(model), "details": _details(model)}


def _details(model: Model) -> dict:
    metadata = model.metadata or {}
    family = metadata.get("architecture", model.backend)
    return {"parent_model": "", "format": "gguf" if model.file_path else model.backend,
            "family": family, "families": [family],
            "parameter_size": metadata.get("size_label", ""),
            "quantization_level": metadata.get("file_type", "")}


def _digest(model: Model) -> str:
    first = (model.files or [{}])[0]
    return first.get("sha256") or ""


@ollama_view("POST")
async def chat(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/api/chat")
    body = json_body(request)
    model = await call_model(call, body.get("model"))
    messages = _chat_messages(body)
    params = _options(body, model) | {"messages": messages}
    stream = _streamed(body)
    reply = await generation_submit(call, params)
    piece = lambda text: {"message": {"role": "assistant", "content": text}}  # noqa: E731
    return await _respond(call, stream, reply, piece)


@ollama_view("POST")
async def generate(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/api/generate")
    body = json_body(request)
    model = await call_model(call, body.get("model"))
    prompt = fields.optional(body, "prompt", str) or ""
    system = fields.optional(body, "system", str)
    if not prompt:  # Ollama's way to load a model: an empty prompt, answered at once
        return JsonResponse(_line(model.name, {"response": "", "done": True,
                                               "done_reason": "load"}))
    if fields.optional(body, "raw", bool):
        params = _options(body, model) | {"prompt": prompt}
    else:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}]
        params = _options(body, model) | {"messages": messages}
    stream = _streamed(body)
    reply = await generation_submit(call, params)
    return await _respond(call, stream, reply, lambda text: {"response": text})


@ollama_view("POST")
async def embed(request: HttpRequest) -> HttpResponse:
    call = await call_begin(request, endpoint="/api/embed")
    body = json_body(request)
    await call_model(call, body.get("model"))
    texts = fields.texts(body, "input")
    vectors, tokens = await embeddings_compute(call, texts)
    from llmhub.api.openai import _embedding_usage

    await sync_to_async(_embedding_usage)(call, tokens)
    return JsonResponse({"model": call.model.name, "embeddings": vectors,
                         "total_duration": _ns(time.perf_counter() - call.started),
                         "load_duration": 0, "prompt_eval_count": tokens})


# --- admin: pull and delete ---------------------------------------------------------------

@ollama_view("POST")
async def pull(request: HttpRequest) -> HttpResponse:
    """Deploy a registered model (one replica) and report its pull as Ollama does."""
    call = await _admin_call(request, "/api/pull")
    body = json_body(request)
    model = await call_model(call, _model_field(body))
    try:
        await sync_to_async(_deployed)(model)
    except ValidationError as error:
        raise ApiError(400, " ".join(error.messages)) from None
    statuses = _pull_statuses(model)
    if fields.optional(body, "stream", bool) is False:
        last = {}
        async for status in statuses:
            last = status
        return ollama_error(ApiError(500, last["error"])) if "error" in last \
            else JsonResponse(last)
    return _ndjson(_lines(statuses))


def _deployed(model: Model) -> None:
    from models_registry.placement import model_deploy

    if not model.placements.exists() and model.backend == Model.Backend.LLAMACPP:
        model_deploy(model=model, replicas=1, slots=model.slots)


async def _pull_statuses(model: Model) -> AsyncIterator[dict]:
    from models_registry.selectors import cluster_snapshot

    yield {"status": "pulling manifest"}
    while True:
        snapshot = await sync_to_async(cluster_snapshot)()
        rows = [row for row in snapshot["placements"] if row["model_id"] == model.pk]
        if not rows or any(row["state"] == "ready" for row in rows):
            break
        failed = [row for row in rows if row["state"] == "failed"]
        if failed:
            yield {"error": failed[0]["error"]}
            return
        progress = next((row["progress"] for row in rows if row["progress"]), None)
        if progress:
            yield {"status": f"pulling {_digest(model)[:12]}", "digest": f"sha256:"
                   f"{_digest(model)}", "total": progress["total"],
                   "completed": progress["done"]}
        await asyncio.sleep(PULL_POLL_SECONDS)
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    yield {"status": "success"}


@ollama_view("DELETE")
async def delete(request: HttpRequest) -> HttpResponse:
    call = await _admin_call(request, "/api/delete")
    body = json_body(request)
    model = await call_model(call, _model_field(body))
    from models_registry.placement import model_delete

    try:
        await sync_to_async(model_delete)(model=model)
    except ValidationError as error:
        raise ApiError(409, " ".join(error.messages)) from None
    return HttpResponse(status=200)


async def _admin_call(request: HttpRequest, endpoint: str) -> ApiCall:
    call = await call_begin(request, endpoint=endpoint)
    if not await sync_to_async(api_key_may_administer)(call.key):
        raise ApiError(403, f"{endpoint} needs an admin key (of a staff user)",
                       kind="permission_error")
    return call


# --- request fields -----------------------------------------------------------------------

def _streamed(body: dict) -> bool:
    """Ollama streams unless told ``"stream": false``; checked before anything is queued."""
    return fields.optional(body, "stream", bool) is not False


def _model_field(body: dict) -> object:
    """``model``, or the older ``name`` when ``model`` is absent, null or empty."""
    model = body.get("model")
    return body.get("name") if model is None or model == "" else model


def _chat_messages(body: dict) -> list[dict[str, str]]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array")
    checked = []
    for index, message in enumerate(messages):
        if (not isinstance(message, dict) or message.get("role") not in ROLES
                or not isinstance(message.get("content", ""), str)):
            raise ApiError(400, f"messages[{index}] must have a role ({', '.join(ROLES)}) "
                                "and a string content")
        checked.append({"role": message["role"], "content": message.get("content", "")})
    return checked


def _options(body: dict, model: Model) -> dict:
    options = fields.optional(body, "options", dict) or {}
    output_format = body.get("format")
    if output_format not in (None, "", "json") and not isinstance(output_format, dict):
        raise ApiError(400, "'format' must be \"json\" or a JSON schema object")
    num_predict = fields.optional(options, "num_predict", int, minimum=-2)
    return generation_params(
        max_tokens=None if num_predict is None or num_predict < 0 else max(num_predict, 1),
        model=model,
        temperature=fields.optional(options, "temperature", float, minimum=0, maximum=2),
        top_p=fields.optional(options, "top_p", float, minimum=0, maximum=1),
        top_k=fields.optional(options, "top_k", int, minimum=0),
        min_p=fields.optional(options, "min_p", float, minimum=0, maximum=1),
        repeat_penalty=fields.optional(options, "repeat_penalty", float, minimum=0),
        seed=fields.optional(options, "seed", int),
        stop=fields.stop_strings(options, "stop", most=16),
        json_output=True if output_format else None,
    )


# --- responses ----------------------------------------------------------------------------

async def _respond(call: ApiCall, stream: bool, reply, piece: Callable[[str], dict]):
    model_name = call.model.name
    if not stream:
        final, _ = await generation_collect(call, reply)
        if final["status"] == "failed":
            status = failure_status(final["error"])
            raise ApiError(500 if status == 502 else status,
                           final["error"] or "the generation failed")
        return JsonResponse(_line(model_name, piece(final["text"]) | _done(call, final)))

    async def lines() -> AsyncIterator[dict]:
        async for frame in generation_frames(call, reply):
            if frame["type"] == "delta":
                yield _line(model_name, piece(frame["text"]) | {"done": False})
            elif frame["status"] == "failed":
                yield {"error": frame["error"] or "the generation failed"}
            else:
                yield _line(model_name, piece("") | _done(call, frame))

    return _ndjson(_lines(lines()))


def _done(call: ApiCall, final: dict) -> dict:
    return {"done": True, "done_reason": "length" if final["finish_reason"] == "length"
            else "stop",
            "total_duration": _ns(time.perf_counter() - call.started),
            "load_duration": 0,
            "prompt_eval_count": final.get("prompt_tokens") or 0,
            "prompt_eval_duration": _ns((final.get("ttft_ms") or 0) / 1000),
            "eval_count": final.get("completion_tokens") or 0,
            "eval_duration": _ns((final.get("decode_ms") or 0) / 1000)}


def _line(model_name: str, fields_: dict) -> dict:
    return {"model": model_name, "created_at": _timestamp(datetime.now(UTC))} | fields_


async def _lines(objects: AsyncIterator[dict]) -> AsyncIterator[str]:
    async for item in objects:
        yield json.dumps(item, separators=(",", ":")) + "\n"


def _ndjson(lines: AsyncIterator[str]) -> StreamingHttpResponse:
    return StreamingHttpResponse(lines, content_type="application/x-ndjson",
                                 headers=stream_headers())


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)
