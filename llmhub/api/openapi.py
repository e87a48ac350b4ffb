"""The OpenAPI 3.1 description of both APIs, served at /v1/openapi.json without a key.

Each bound here mirrors a check in fields.py, openai.py or ollama.py; change them together
(tests/llmhub/test_openapi.py runs schemathesis against the live hub to catch drift).
Request bodies allow extra properties, because clients send fields the hub ignores, and a
field the view reads only in some requests is typed under an ``if`` (``_read_when``);
response objects require exactly what the views always send.

Streams: an SSE response's schema describes one event (``data`` holds a JSON chunk or
``[DONE]``), as schemathesis and OpenAPI 3.2's ``itemSchema`` read it. An NDJSON response
is a string; ``x-itemSchema`` on its media type names the schema of each line.
"""
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from llmhub.api import ollama, openai
from llmhub.api.calls import ApiError

# --- schema helpers -----------------------------------------------------------------------


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(properties: dict, *required: str, **keywords) -> dict:
    schema = {"type": "object", "properties": properties, **keywords}
    return schema | {"required": list(required)} if required else schema


def _optional(kind: str, **keywords) -> dict:
    """A field the views check when present; null counts as absent."""
    return {"type": [kind, "null"], **keywords}


def _array(items: dict, **keywords) -> dict:
    return {"type": "array", "items": items, **keywords}


def _stop(most: int) -> dict:
    text = {"type": "string", "minLength": 1}
    return {"anyOf": [text, _array(text, maxItems=most), {"type": "null"}],
            "description": f"A string or up to {most} non-empty strings."}


def _unread(condition: str) -> dict:
    """A field the view reads only in some requests: its schema is in _read_when."""
    return {"description": f"Read only {condition}; otherwise ignored."}


def _read_when(condition: dict, **fields: dict) -> dict:
    return {"if": condition, "then": {"properties": fields}}


def _texts() -> dict:
    return {"anyOf": [{"type": "string"}, _array({"type": "string"}, minItems=1)]}


def _model_name() -> dict:
    return {"type": "string", "minLength": 1, "description": "A model's name, as listed."}


INTEGER = {"type": "integer"}
COUNT = {"type": "integer", "minimum": 0}
STRING = {"type": "string"}
NONEMPTY = {"type": "string", "minLength": 1}
TIMESTAMP = {"type": "string", "format": "date-time"}


# --- operations ---------------------------------------------------------------------------


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _body(schema: dict) -> dict:
    return {"required": True, "content": _json(schema)}


ERROR_DESCRIPTIONS = {
    400: "The body is not a JSON object, or a field the hub reads is wrong; the message "
         "names it.",
    401: "No key, or an unknown, revoked or expired one.",
    403: "The key is not an admin key of a staff user.",
    404: "No such model, or the key may not use it.",
    405: "The method is not allowed on this path.",
    409: "The model cannot be deleted now; the message says why.",
    413: "The body is over the hub's upload limit.",
    429: "The key is over its requests or tokens per minute.",
    500: "The generation failed.",
    502: "The generation or the worker failed.",
    503: "No worker serves the model.",
    504: "The worker did not answer in time.",
}


def _errors(shape: str, *statuses: int) -> dict:
    responses = {}
    for status in statuses:
        responses[str(status)] = {"description": ERROR_DESCRIPTIONS[status],
                                  "content": _json(_ref(shape))}
    if 429 in statuses:
        responses["429"]["headers"] = {"Retry-After": {
            "required": True, "description": "Seconds until the key's window ends.",
            "schema": {"type": "integer", "minimum": 0}}}
    return responses


def _operation(summary: str, tag: str, responses: dict, *, body: dict | None = None,
               public: bool = False, **keywords) -> dict:
    operation = {"summary": summary, "tags": [tag], "responses": responses, **keywords}
    if body is not None:
        operation["requestBody"] = _body(body)
    if public:
        operation["security"] = []
    return operation


def _ok(content: dict, description: str = "Success.") -> dict:
    return {"200": {"description": description, "content": content}}


# --- OpenAI: requests ---------------------------------------------------------------------

OPENAI_GENERATION_ERRORS = (400, 401, 404, 405, 413, 429, 502)


def _openai_chat_message() -> dict:
    parts = _array(_object({"type": {"const": "text"}, "text": STRING}, "type", "text"))
    content = {"anyOf": [STRING, parts]}
    return _object(
        {"role": {"enum": list(openai.ROLES)},
         "content": {"anyOf": [STRING, parts, {"type": "null"}]}}, "role",
        description="content is a string or text parts; only an assistant's may be null "
                    "or absent. developer is read as system.",
        **{"if": {"properties": {"role": {"const": "assistant"}}},
           "else": {"required": ["content"], "properties": {"content": content}}})


def _openai_sampling() -> dict:
    return {
        "model": _model_name(),
        "n": _optional("integer", minimum=1, maximum=1),
        "max_completion_tokens": _optional("integer", minimum=1, description=(
            "Capped at the model's context length; without it or max_tokens, the model's "
            "max_tokens.")),
        "max_tokens": _unread("when max_completion_tokens is absent or null: then as it"),
        "temperature": _optional("number", minimum=0, maximum=2),
        "top_p": _optional("number", minimum=0, maximum=1),
        "seed": _optional("integer"),
        "stop": _stop(4),
        "stream": _optional("boolean"),
        "stream_options": _unread("when stream is true: then {include_usage: boolean}"),
    }


def _openai_conditions() -> list[dict]:
    return [
        _read_when({"properties": {"max_completion_tokens": {"type": "null"}}},
                   max_tokens=_optional("integer", minimum=1)),
        _read_when({"required": ["stream"], "properties": {"stream": {"const": True}}},
                   stream_options=_optional("object", properties={
                       "include_usage": _optional("boolean")})),
    ]


def _chat_request() -> dict:
    return _object(_openai_sampling() | {
        "messages": _array(_openai_chat_message(), minItems=1),
        "logprobs": _optional("boolean"),
        "top_logprobs": _optional("integer", minimum=0, maximum=20),
        "response_format": _optional("object", properties={"type": {
            "enum": ["text", "json_object", "json_schema", None]}},
            description="json_object and json_schema both constrain the reply to JSON "
                        "(any JSON object: the schema itself is not enforced)."),
    }, "model", "messages", allOf=_openai_conditions())


def _completion_request() -> dict:
    return _object(_openai_sampling() | {
        "prompt": {"anyOf": [NONEMPTY, _array(NONEMPTY, minItems=1, maxItems=1)],
                   "description": "One prompt per request."},
        "logprobs": _optional("integer", minimum=0, maximum=5),
        "echo": {"enum": [False, None], "description": "Not supported."},
        "suffix": {"enum": ["", None], "description": "Not supported."},
    }, "model", "prompt", allOf=_openai_conditions())


def _embeddings_request() -> dict:
    return _object({"model": _model_name(), "input": _texts(),
                    "encoding_format": {"enum": ["float", "base64", None]}},
                   "model", "input")


# --- OpenAI: responses --------------------------------------------------------------------


OPENAI_BASE = {"id": STRING, "created": INTEGER, "model": STRING,
               "system_fingerprint": {"type": "null"}}
FINISH = {"enum": ["stop", "length"]}
FINISH_OR_NULL = {"enum": ["stop", "length", None]}


def _openai_schemas() -> dict:
    top = _object({"token": STRING, "logprob": {"type": "number"}, "bytes": _array(INTEGER)},
                  "token", "logprob", "bytes")
    return {
        "OpenAIError": _object({"error": _object({
            "message": STRING, "type": STRING, "param": _optional("string"),
            "code": {"type": ["string", "null"]}}, "message", "type", "param", "code")}, "error"),
        "Model": _object({"id": STRING, "object": {"const": "model"}, "created": INTEGER,
                          "owned_by": STRING}, "id", "object", "created", "owned_by"),
        "ModelList": _object({"object": {"const": "list"}, "data": _array(_ref("Model"))},
                             "object", "data"),
        "Usage": _object({"prompt_tokens": COUNT, "completion_tokens": COUNT,
                          "total_tokens": COUNT},
                         "prompt_tokens", "completion_tokens", "total_tokens"),
        "TopLogprob": top,
        "TokenLogprob": top | {"properties": top["properties"] | {
            "top_logprobs": _array(_ref("TopLogprob"))},
            "required": [*top["required"], "top_logprobs"]},
        **_chat_schemas(),
        **_completion_schemas(),
        **_embedding_schemas(),
    }


def _chat_schemas() -> dict:
    logprobs = _optional("object", properties={
        "content": _array(_ref("TokenLogprob")), "refusal": {"type": "null"}},
        required=["content", "refusal"])
    message = _object({"role": {"const": "assistant"}, "content": STRING,
                       "refusal": {"type": "null"}}, "role", "content", "refusal")
    delta = _object({"role": {"const": "assistant"}, "content": STRING})
    choice = lambda field, finish: _object(  # noqa: E731
        {"index": COUNT, field: message if field == "message" else delta,
         "logprobs": logprobs, "finish_reason": finish},
        "index", field, "logprobs", "finish_reason")
    return {
        "ChatCompletion": _object(OPENAI_BASE | {
            "object": {"const": "chat.completion"},
            "choices": _array(choice("message", FINISH), minItems=1, maxItems=1),
            "usage": _ref("Usage")}, *OPENAI_BASE, "object", "choices", "usage"),
        "ChatCompletionChunk": _object(OPENAI_BASE | {
            "object": {"const": "chat.completion.chunk"},
            "choices": _array(choice("delta", FINISH_OR_NULL), maxItems=1),
            "usage": {"anyOf": [_ref("Usage"), {"type": "null"}],
                      "description": "With stream_options.include_usage: null, then a "
                                     "last chunk with no choices carries it."}},
            *OPENAI_BASE, "object", "choices"),
    }


def _completion_schemas() -> dict:
    logprobs = _optional("object", properties={
        "tokens": _array(STRING), "token_logprobs": _array({"type": "number"}),
        "top_logprobs": _array({"type": "object",
                                "additionalProperties": {"type": "number"}}),
        "text_offset": _array(COUNT)},
        required=["tokens", "token_logprobs", "top_logprobs", "text_offset"])
    choice = lambda finish: _object(  # noqa: E731
        {"text": STRING, "index": COUNT, "logprobs": logprobs, "finish_reason": finish},
        "text", "index", "logprobs", "finish_reason")
    fields = OPENAI_BASE | {"object": {"const": "text_completion"}}
    required = (*OPENAI_BASE, "object", "choices")
    return {
        "Completion": _object(fields | {
            "choices": _array(choice(FINISH), minItems=1, maxItems=1),
            "usage": _ref("Usage")}, *required, "usage"),
        "CompletionChunk": _object(fields | {
            "choices": _array(choice(FINISH_OR_NULL), maxItems=1),
            "usage": {"anyOf": [_ref("Usage"), {"type": "null"}]}}, *required),
    }


def _embedding_schemas() -> dict:
    vector = {"anyOf": [_array({"type": "number"}), {
        "type": "string", "description": "base64 of little-endian float32s"}]}
    return {"EmbeddingList": _object({
        "object": {"const": "list"}, "model": STRING,
        "data": _array(_object({"object": {"const": "embedding"}, "index": COUNT,
                                "embedding": vector}, "object", "index", "embedding"),
                       minItems=1),
        "usage": _object({"prompt_tokens": COUNT, "total_tokens": COUNT},
                         "prompt_tokens", "total_tokens")},
        "object", "model", "data", "usage")}


def _sse(chunk: str) -> dict:
    event = _object({"data": {
        "type": "string",
        "if": {"const": "[DONE]"},
        "else": {"contentMediaType": "application/json", "contentSchema": {
            "anyOf": [_ref(chunk), _ref("OpenAIError")]}}}}, "data")
    return {"text/event-stream": {"schema": event | {
        "description": f"Server-sent events: `data:` lines, each a {chunk} (or an error, "
                       "if the generation fails), the last `data: [DONE]`."}}}


def _openai_paths() -> dict:
    errors = lambda *statuses: _errors("OpenAIError", *statuses)  # noqa: E731
    generation = errors(*OPENAI_GENERATION_ERRORS)
    return {
        "/v1/models": {"get": _operation(
            "The models this key may use", "OpenAI", operationId="openaiModelsList",
            responses=_ok(_json(_ref("ModelList"))) | errors(401, 405))},
        "/v1/models/{name}": {"get": _operation(
            "One model", "OpenAI", operationId="openaiModelRetrieve", parameters=[{
                "name": "name", "in": "path", "required": True, "schema": _model_name()}],
            responses=_ok(_json(_ref("Model"))) | errors(401, 404, 405))},
        "/v1/chat/completions": {"post": _operation(
            "A chat completion", "OpenAI", operationId="openaiChatCompletion",
            body=_chat_request(), responses=_ok(
                _json(_ref("ChatCompletion")) | _sse("ChatCompletionChunk"),
                "The completion, or its chunks when stream is true.") | generation)},
        "/v1/completions": {"post": _operation(
            "A raw text completion", "OpenAI", operationId="openaiCompletion",
            body=_completion_request(), responses=_ok(
                _json(_ref("Completion")) | _sse("CompletionChunk"),
                "The completion, or its chunks when stream is true.") | generation)},
        "/v1/embeddings": {"post": _operation(
            "Embeddings of one text or more", "OpenAI", operationId="openaiEmbeddings",
            body=_embeddings_request(), responses=_ok(_json(_ref("EmbeddingList")))
            | errors(400, 401, 404, 405, 413, 429, 502, 503, 504))},
        "/v1/openapi.json": {"get": _operation(
            "This document", "OpenAI", operationId="openapiDocument", public=True,
            responses=_ok(_json(_object({}, "openapi", "info", "paths"))) | errors(405))},
    }


# --- Ollama: requests ---------------------------------------------------------------------


def _ollama_options() -> dict:
    return _optional("object", properties={
        "num_predict": _optional("integer", minimum=-2,
                                 description="-1 or -2: the model's max_tokens."),
        "temperature": _optional("number", minimum=0, maximum=2),
        "top_p": _optional("number", minimum=0, maximum=1),
        "top_k": _optional("integer", minimum=0),
        "min_p": _optional("number", minimum=0, maximum=1),
        "repeat_penalty": _optional("number", minimum=0),
        "seed": _optional("integer"),
        "stop": _stop(16),
    })


def _ollama_generation() -> dict:
    return {
        "options": _ollama_options(),
        "format": {"anyOf": [{"enum": ["", "json", None]}, {"type": "object"}],
                   "description": "\"json\" or a JSON schema object: the reply is JSON "
                                  "(the schema itself is not enforced)."},
        "stream": _optional("boolean", description="Streams NDJSON unless false."),
    }


def _ollama_chat_request() -> dict:
    message = _object({"role": {"enum": list(ollama.ROLES)}, "content": STRING}, "role")
    return _object({"model": _model_name(), "messages": _array(message, minItems=1)}
                   | _ollama_generation(), "model", "messages")


def _ollama_generate_request() -> dict:
    """An empty prompt loads the model and is answered at once, before the generation
    fields are read."""
    generation = _ollama_generation() | {"raw": _optional(
        "boolean", description="The prompt as is, with no chat template.")}
    prompted = {"required": ["prompt"], "properties": {"prompt": {"type": "string",
                                                                 "minLength": 1}}}
    return _object({
        "model": _model_name(),
        "prompt": _optional("string", description="Empty or absent: load the model, "
                            "answered at once with done_reason load."),
        "system": _optional("string"),
    } | {name: _unread("when prompt is not empty") for name in generation},
        "model", allOf=[_read_when(prompted, **generation)])


def _ollama_model_request(*, stream: bool = False) -> dict:
    """/api/show, /api/pull, /api/delete: the model by ``model`` or, as older clients
    send it, ``name`` (read only when model is absent or empty)."""
    by_model = {"required": ["model"], "properties": {"model": {"type": "string",
                                                                "minLength": 1}}}
    by_name = {"required": ["name"], "properties": {
        "model": {"enum": ["", None]}, "name": {"type": "string", "minLength": 1}}}
    properties = {"model": _optional("string"), "name": _unread(
        "when model is absent or empty")}
    if stream:
        properties["stream"] = _optional("boolean")
    return _object(properties, anyOf=[by_model, by_name])


# --- Ollama: responses --------------------------------------------------------------------


def _ollama_schemas() -> dict:
    details = _object({
        "parent_model": STRING, "format": STRING, "family": STRING,
        "families": _array(STRING), "parameter_size": STRING, "quantization_level": STRING},
        "parent_model", "format", "family", "families", "parameter_size",
        "quantization_level")
    entry = _object({"name": STRING, "model": STRING, "modified_at": TIMESTAMP,
                     "size": COUNT, "digest": STRING, "details": _ref("OllamaModelDetails")},
                    "name", "model", "modified_at", "size", "digest", "details")
    running = entry | {"properties": entry["properties"] | {
        "expires_at": TIMESTAMP, "size_vram": COUNT},
        "required": [*entry["required"], "expires_at", "size_vram"]}
    return {
        "OllamaError": _object({"error": STRING}, "error"),
        "OllamaVersion": _object({"version": STRING}, "version"),
        "OllamaModelDetails": details,
        "OllamaModelList": _object({"models": _array(entry)}, "models"),
        "OllamaRunningList": _object({"models": _array(running)}, "models"),
        "OllamaShow": _object({
            "modelfile": STRING, "parameters": STRING, "template": STRING,
            "details": _ref("OllamaModelDetails"), "model_info": {"type": "object"},
            "capabilities": _array(STRING), "modified_at": TIMESTAMP},
            "modelfile", "parameters", "template", "details", "model_info",
            "capabilities", "modified_at"),
        **_ollama_line_schemas("OllamaChat", {"message": _object(
            {"role": {"const": "assistant"}, "content": STRING}, "role", "content")}),
        **_ollama_line_schemas("OllamaGenerate", {"response": STRING}),
        "OllamaGenerateLoaded": _object({
            "model": STRING, "created_at": TIMESTAMP, "response": {"const": ""},
            "done": {"const": True}, "done_reason": {"const": "load"}},
            "model", "created_at", "response", "done", "done_reason"),
        "OllamaEmbed": _object({
            "model": STRING, "embeddings": _array(_array({"type": "number"}), minItems=1),
            "total_duration": COUNT, "load_duration": COUNT, "prompt_eval_count": COUNT},
            "model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"),
        "OllamaPullStatus": _object({"status": STRING, "digest": STRING, "total": COUNT,
                                     "completed": COUNT}, "status"),
    }


def _ollama_line_schemas(name: str, piece: dict) -> dict:
    """A streamed line (done false) and the last one (done true, counts, nanoseconds)."""
    common = {"model": STRING, "created_at": TIMESTAMP} | piece
    stats = {"done_reason": {"enum": ["stop", "length"]}, "total_duration": COUNT,
             "load_duration": COUNT, "prompt_eval_count": COUNT,
             "prompt_eval_duration": COUNT, "eval_count": COUNT, "eval_duration": COUNT}
    return {
        f"{name}Delta": _object(common | {"done": {"const": False}}, *common, "done"),
        f"{name}Done": _object(common | {"done": {"const": True}} | stats,
                               *common, "done", *stats),
    }


def _ndjson(*lines: str) -> dict:
    return {"application/x-ndjson": {
        "schema": {"type": "string", "description": "One JSON object per line: "
                   + ", ".join(lines) + "; an OllamaError line if it fails."},
        "x-itemSchema": {"anyOf": [_ref(line) for line in (*lines, "OllamaError")]}}}


def _ollama_paths() -> dict:
    errors = lambda *statuses: _errors("OllamaError", *statuses)  # noqa: E731
    generation = errors(400, 401, 404, 405, 413, 429, 500)
    streamed = "The reply as NDJSON lines, or as one object when stream is false."
    return {
        "/api/version": {method: _operation(
            "The Ollama version whose API this follows", "Ollama", public=True,
            operationId=f"ollamaVersion{method.title()}",
            responses=_ok(_json(_ref("OllamaVersion"))) | errors(405))
            for method in ("get", "head")},
        "/api/tags": {"get": _operation(
            "The models this key may use", "Ollama", operationId="ollamaTags",
            responses=_ok(_json(_ref("OllamaModelList"))) | errors(401, 405))},
        "/api/ps": {"get": _operation(
            "The models a live worker serves", "Ollama", operationId="ollamaPs",
            responses=_ok(_json(_ref("OllamaRunningList"))) | errors(401, 405))},
        "/api/show": {"post": _operation(
            "One model's details", "Ollama", operationId="ollamaShow",
            body=_ollama_model_request(), responses=_ok(_json(_ref("OllamaShow")))
            | errors(400, 401, 404, 405, 413, 429))},
        "/api/chat": {"post": _operation(
            "A chat reply", "Ollama", operationId="ollamaChat", body=_ollama_chat_request(),
            responses=_ok(_json(_ref("OllamaChatDone"))
                          | _ndjson("OllamaChatDelta", "OllamaChatDone"), streamed)
            | generation)},
        "/api/generate": {"post": _operation(
            "A reply to one prompt", "Ollama", operationId="ollamaGenerate",
            body=_ollama_generate_request(), responses=_ok(
                _json({"anyOf": [_ref("OllamaGenerateDone"), _ref("OllamaGenerateLoaded")]})
                | _ndjson("OllamaGenerateDelta", "OllamaGenerateDone",
                          "OllamaGenerateLoaded"), streamed) | generation)},
        "/api/embed": {"post": _operation(
            "Embeddings of one text or more", "Ollama", operationId="ollamaEmbed",
            body=_object({"model": _model_name(), "input": _texts()}, "model", "input"),
            responses=_ok(_json(_ref("OllamaEmbed")))
            | errors(400, 401, 404, 405, 413, 429, 502, 503, 504))},
        **_ollama_admin_paths(errors),
    }


def _ollama_admin_paths(errors) -> dict:
    return {
        "/api/pull": {"post": _operation(
            "Deploy a registered model (admin keys)", "Ollama", operationId="ollamaPull",
            body=_ollama_model_request(stream=True), responses=_ok(
                _json(_ref("OllamaPullStatus")) | _ndjson("OllamaPullStatus"),
                "Pull statuses as NDJSON lines, or the last one when stream is false.")
            | errors(400, 401, 403, 404, 405, 413, 429, 500))},
        "/api/delete": {"delete": _operation(
            "Undeploy and delete a model (admin keys)", "Ollama", operationId="ollamaDelete",
            body=_ollama_model_request(), responses={"200": {"description": "Deleted."}}
            | errors(400, 401, 403, 404, 405, 409, 413, 429))},
    }


# --- the document -------------------------------------------------------------------------


def openapi_spec() -> dict:
    """The whole document, as a dict ready for JSON."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "llmhub", "version": "1", "description": (
            "OpenAI-compatible endpoints under /v1 and Ollama-compatible ones under /api, "
            "both authenticated with an llmhub API key.")},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": "OpenAI"}, {"name": "Ollama"}],
        "paths": _openai_paths() | _ollama_paths(),
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "An llmhub API key: Authorization: Bearer <key>."}},
            "schemas": _openai_schemas() | _ollama_schemas(),
        },
    }


@csrf_exempt  # a POST gets the API's 405, not the CSRF failure page
def openapi_document(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = openai.openai_error(ApiError(
            405, f"{request.method} is not allowed here; use GET"))
        response["Allow"] = "GET, HEAD"
        return response
    return JsonResponse(openapi_spec())
