"""The Ollama-compatible endpoints under /api: request and response schemas, and paths."""

from llmhub.api.ollama import ROLES
from llmhub.api.openapi.schema import (
    COUNT,
    STRING,
    TIMESTAMP,
    array,
    error_responses,
    json_content,
    model_name,
    obj,
    ok,
    operation,
    optional,
    read_when,
    ref,
    stop_strings,
    texts,
    unread,
)

# --- Ollama: requests ---------------------------------------------------------------------


def _ollama_options() -> dict:
    return optional("object", properties={
        "num_predict": optional("integer", minimum=-2,
                                 description="-1 or -2: the model's max_tokens."),
        "temperature": optional("number", minimum=0, maximum=2),
        "top_p": optional("number", minimum=0, maximum=1),
        "top_k": optional("integer", minimum=0),
        "min_p": optional("number", minimum=0, maximum=1),
        "repeat_penalty": optional("number", minimum=0),
        "seed": optional("integer"),
        "stop": stop_strings(16),
    })


def _ollama_generation() -> dict:
    return {
        "options": _ollama_options(),
        "format": {"anyOf": [{"enum": ["", "json", None]}, {"type": "object"}],
                   "description": "\"json\" or a JSON schema object: the reply is JSON "
                                  "(the schema itself is not enforced)."},
        "stream": optional("boolean", description="Streams NDJSON unless false."),
    }


def _ollama_chat_request() -> dict:
    message = obj({"role": {"enum": list(ROLES)}, "content": STRING}, "role")
    return obj({"model": model_name(), "messages": array(message, minItems=1)}
                   | _ollama_generation(), "model", "messages")


def _ollama_generate_request() -> dict:
    """An empty prompt loads the model and is answered at once, before the generation
    fields are read."""
    generation = _ollama_generation() | {"raw": optional(
        "boolean", description="The prompt as is, with no chat template.")}
    prompted = {"required": ["prompt"], "properties": {"prompt": {"type": "string",
                                                                 "minLength": 1}}}
    return obj({
        "model": model_name(),
        "prompt": optional("string", description="Empty or absent: load the model, "
                            "answered at once with done_reason load."),
        "system": optional("string"),
    } | {name: unread("when prompt is not empty") for name in generation},
        "model", allOf=[read_when(prompted, **generation)])


def _ollama_model_request(*, stream: bool = False) -> dict:
    """/api/show, /api/pull, /api/delete: the model by ``model`` or, as older clients
    send it, ``name`` (read only when model is absent or empty)."""
    by_model = {"required": ["model"], "properties": {"model": {"type": "string",
                                                                "minLength": 1}}}
    by_name = {"required": ["name"], "properties": {
        "model": {"enum": ["", None]}, "name": {"type": "string", "minLength": 1}}}
    properties = {"model": optional("string"), "name": unread(
        "when model is absent or empty")}
    if stream:
        properties["stream"] = optional("boolean")
    return obj(properties, anyOf=[by_model, by_name])


# --- Ollama: responses --------------------------------------------------------------------


def ollama_schemas() -> dict:
    details = obj({
        "parent_model": STRING, "format": STRING, "family": STRING,
        "families": array(STRING), "parameter_size": STRING, "quantization_level": STRING},
        "parent_model", "format", "family", "families", "parameter_size",
        "quantization_level")
    entry = obj({"name": STRING, "model": STRING, "modified_at": TIMESTAMP,
                     "size": COUNT, "digest": STRING, "details": ref("OllamaModelDetails")},
                    "name", "model", "modified_at", "size", "digest", "details")
    running = entry | {"properties": entry["properties"] | {
        "expires_at": TIMESTAMP, "size_vram": COUNT},
        "required": [*entry["required"], "expires_at", "size_vram"]}
    return {
        "OllamaError": obj({"error": STRING}, "error"),
        "OllamaVersion": obj({"version": STRING}, "version"),
        "OllamaModelDetails": details,
        "OllamaModelList": obj({"models": array(entry)}, "models"),
        "OllamaRunningList": obj({"models": array(running)}, "models"),
        "OllamaShow": obj({
            "modelfile": STRING, "parameters": STRING, "template": STRING,
            "details": ref("OllamaModelDetails"), "model_info": {"type": "object"},
            "capabilities": array(STRING), "modified_at": TIMESTAMP},
            "modelfile", "parameters", "template", "details", "model_info",
            "capabilities", "modified_at"),
        **_ollama_line_schemas("OllamaChat", {"message": obj(
            {"role": {"const": "assistant"}, "content": STRING}, "role", "content")}),
        **_ollama_line_schemas("OllamaGenerate", {"response": STRING}),
        "OllamaGenerateLoaded": obj({
            "model": STRING, "created_at": TIMESTAMP, "response": {"const": ""},
            "done": {"const": True}, "done_reason": {"const": "load"}},
            "model", "created_at", "response", "done", "done_reason"),
        "OllamaEmbed": obj({
            "model": STRING, "embeddings": array(array({"type": "number"}), minItems=1),
            "total_duration": COUNT, "load_duration": COUNT, "prompt_eval_count": COUNT},
            "model", "embeddings", "total_duration", "load_duration", "prompt_eval_count"),
        "OllamaPullStatus": obj({"status": STRING, "digest": STRING, "total": COUNT,
                                     "completed": COUNT}, "status"),
    }


def _ollama_line_schemas(name: str, piece: dict) -> dict:
    """A streamed line (done false) and the last one (done true, counts, nanoseconds)."""
    common = {"model": STRING, "created_at": TIMESTAMP} | piece
    stats = {"done_reason": {"enum": ["stop", "length"]}, "total_duration": COUNT,
             "load_duration": COUNT, "prompt_eval_count": COUNT,
             "prompt_eval_duration": COUNT, "eval_count": COUNT, "eval_duration": COUNT}
    return {
        f"{name}Delta": obj(common | {"done": {"const": False}}, *common, "done"),
        f"{name}Done": obj(common | {"done": {"const": True}} | stats,
                               *common, "done", *stats),
    }


def _ndjson(*lines: str) -> dict:
    return {"application/x-ndjson": {
        "schema": {"type": "string", "description": "One JSON object per line: "
                   + ", ".join(lines) + "; an OllamaError line if it fails."},
        "x-itemSchema": {"anyOf": [ref(line) for line in (*lines, "OllamaError")]}}}


def ollama_paths() -> dict:
    errors = lambda *statuses: error_responses("OllamaError", *statuses)  # noqa: E731
    generation = errors(400, 401, 404, 405, 413, 429, 500)
    streamed = "The reply as NDJSON lines, or as one object when stream is false."
    return {
        "/api/version": {method: operation(
            "The Ollama version whose API this follows", "Ollama", public=True,
            operationId=f"ollamaVersion{method.title()}",
            responses=ok(json_content(ref("OllamaVersion"))) | errors(405))
            for method in ("get", "head")},
        "/api/tags": {"get": operation(
            "The models this key may use", "Ollama", operationId="ollamaTags",
            responses=ok(json_content(ref("OllamaModelList"))) | errors(401, 405))},
        "/api/ps": {"get": operation(
            "The models a live worker serves", "Ollama", operationId="ollamaPs",
            responses=ok(json_content(ref("OllamaRunningList"))) | errors(401, 405))},
        "/api/show": {"post": operation(
            "One model's details", "Ollama", operationId="ollamaShow",
            body=_ollama_model_request(), responses=ok(json_content(ref("OllamaShow")))
            | errors(400, 401, 404, 405, 413, 429))},
        "/api/chat": {"post": operation(
            "A chat reply", "Ollama", operationId="ollamaChat", body=_ollama_chat_request(),
            responses=ok(json_content(ref("OllamaChatDone"))
                          | _ndjson("OllamaChatDelta", "OllamaChatDone"), streamed)
            | generation)},
        "/api/generate": {"post": operation(
            "A reply to one prompt", "Ollama", operationId="ollamaGenerate",
            body=_ollama_generate_request(), responses=ok(
                json_content({"anyOf": [ref("OllamaGenerateDone"), ref("OllamaGenerateLoaded")]})
                | _ndjson("OllamaGenerateDelta", "OllamaGenerateDone",
                          "OllamaGenerateLoaded"), streamed) | generation)},
        "/api/embed": {"post": operation(
            "Embeddings of one text or more", "Ollama", operationId="ollamaEmbed",
            body=obj({"model": model_name(), "input": texts()}, "model", "input"),
            responses=ok(json_content(ref("OllamaEmbed")))
            | errors(400, 401, 404, 405, 413, 429, 502, 503, 504))},
        **_ollama_admin_paths(errors),
    }


def _ollama_admin_paths(errors) -> dict:
    return {
        "/api/pull": {"post": operation(
            "Deploy a registered model (admin keys)", "Ollama", operationId="ollamaPull",
            body=_ollama_model_request(stream=True), responses=ok(
                json_content(ref("OllamaPullStatus")) | _ndjson("OllamaPullStatus"),
                "Pull statuses as NDJSON lines, or the last one when stream is false.")
            | errors(400, 401, 403, 404, 405, 413, 429, 500))},
        "/api/delete": {"delete": operation(
            "Undeploy and delete a model (admin keys)", "Ollama", operationId="ollamaDelete",
            body=_ollama_model_request(), responses={"200": {"description": "Deleted."}}
            | errors(400, 401, 403, 404, 405, 409, 413, 429))},
    }
