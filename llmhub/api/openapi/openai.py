"""The OpenAI-compatible endpoints under /v1: request and response schemas, and paths."""

from llmhub.api.openai import ROLES
from llmhub.api.openapi.schema import (
    COUNT,
    INTEGER,
    NONEMPTY,
    STRING,
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

# --- OpenAI: requests ---------------------------------------------------------------------

OPENAI_GENERATION_ERRORS = (400, 401, 404, 405, 413, 429, 502)


def _openai_chat_message() -> dict:
    parts = array(obj({"type": {"const": "text"}, "text": STRING}, "type", "text"))
    content = {"anyOf": [STRING, parts]}
    return obj(
        {"role": {"enum": list(ROLES)},
         "content": {"anyOf": [STRING, parts, {"type": "null"}]}}, "role",
        description="content is a string or text parts; only an assistant's may be null "
                    "or absent. developer is read as system.",
        **{"if": {"properties": {"role": {"const": "assistant"}}},
           "else": {"required": ["content"], "properties": {"content": content}}})


def _openai_sampling() -> dict:
    return {
        "model": model_name(),
        "n": optional("integer", minimum=1, maximum=1),
        "max_completion_tokens": optional("integer", minimum=1, description=(
            "Capped at the model's context length; without it or max_tokens, the model's "
            "max_tokens.")),
        "max_tokens": unread("when max_completion_tokens is absent or null: then as it"),
        "temperature": optional("number", minimum=0, maximum=2),
        "top_p": optional("number", minimum=0, maximum=1),
        "seed": optional("integer"),
        "stop": stop_strings(4),
        "stream": optional("boolean"),
        "stream_options": unread("when stream is true: then {include_usage: boolean}"),
    }


def _openai_conditions() -> list[dict]:
    return [
        read_when({"properties": {"max_completion_tokens": {"type": "null"}}},
                   max_tokens=optional("integer", minimum=1)),
        read_when({"required": ["stream"], "properties": {"stream": {"const": True}}},
                   stream_options=optional("object", properties={
                       "include_usage": optional("boolean")})),
    ]


def _chat_request() -> dict:
    return obj(_openai_sampling() | {
        "messages": array(_openai_chat_message(), minItems=1),
        "logprobs": optional("boolean"),
        "top_logprobs": optional("integer", minimum=0, maximum=20),
        "response_format": optional("object", properties={"type": {
            "enum": ["text", "json_object", "json_schema", None]}},
            description="json_object and json_schema both constrain the reply to JSON "
                        "(any JSON object: the schema itself is not enforced)."),
    }, "model", "messages", allOf=_openai_conditions())


def _completion_request() -> dict:
    return obj(_openai_sampling() | {
        "prompt": {"anyOf": [NONEMPTY, array(NONEMPTY, minItems=1, maxItems=1)],
                   "description": "One prompt per request."},
        "logprobs": optional("integer", minimum=0, maximum=5),
        "echo": {"enum": [False, None], "description": "Not supported."},
        "suffix": {"enum": ["", None], "description": "Not supported."},
    }, "model", "prompt", allOf=_openai_conditions())


def _embeddings_request() -> dict:
    return obj({"model": model_name(), "input": texts(),
                    "encoding_format": {"enum": ["float", "base64", None]}},
                   "model", "input")


# --- OpenAI: responses --------------------------------------------------------------------


OPENAI_BASE = {"id": STRING, "created": INTEGER, "model": STRING,
               "system_fingerprint": {"type": "null"}}
FINISH = {"enum": ["stop", "length"]}
FINISH_OR_NULL = {"enum": ["stop", "length", None]}


def openai_schemas() -> dict:
    top = obj({"token": STRING, "logprob": {"type": "number"}, "bytes": array(INTEGER)},
                  "token", "logprob", "bytes")
    return {
        "OpenAIError": obj({"error": obj({
            "message": STRING, "type": STRING, "param": optional("string"),
            "code": {"type": ["string", "null"]}}, "message", "type", "param", "code")}, "error"),
        "Model": obj({"id": STRING, "object": {"const": "model"}, "created": INTEGER,
                          "owned_by": STRING}, "id", "object", "created", "owned_by"),
        "ModelList": obj({"object": {"const": "list"}, "data": array(ref("Model"))},
                             "object", "data"),
        "Usage": obj({"prompt_tokens": COUNT, "completion_tokens": COUNT,
                          "total_tokens": COUNT},
                         "prompt_tokens", "completion_tokens", "total_tokens"),
        "TopLogprob": top,
        "TokenLogprob": top | {"properties": top["properties"] | {
            "top_logprobs": array(ref("TopLogprob"))},
            "required": [*top["required"], "top_logprobs"]},
        **_chat_schemas(),
        **_completion_schemas(),
        **_embedding_schemas(),
    }


def _chat_schemas() -> dict:
    logprobs = optional("object", properties={
        "content": array(ref("TokenLogprob")), "refusal": {"type": "null"}},
        required=["content", "refusal"])
    message = obj({"role": {"const": "assistant"}, "content": STRING,
                       "refusal": {"type": "null"}}, "role", "content", "refusal")
    delta = obj({"role": {"const": "assistant"}, "content": STRING})
    choice = lambda field, finish: obj(  # noqa: E731
        {"index": COUNT, field: message if field == "message" else delta,
         "logprobs": logprobs, "finish_reason": finish},
        "index", field, "logprobs", "finish_reason")
    return {
        "ChatCompletion": obj(OPENAI_BASE | {
            "object": {"const": "chat.completion"},
            "choices": array(choice("message", FINISH), minItems=1, maxItems=1),
            "usage": ref("Usage")}, *OPENAI_BASE, "object", "choices", "usage"),
        "ChatCompletionChunk": obj(OPENAI_BASE | {
            "object": {"const": "chat.completion.chunk"},
            "choices": array(choice("delta", FINISH_OR_NULL), maxItems=1),
            "usage": {"anyOf": [ref("Usage"), {"type": "null"}],
                      "description": "With stream_options.include_usage: null, then a "
                                     "last chunk with no choices carries it."}},
            *OPENAI_BASE, "object", "choices"),
    }


def _completion_schemas() -> dict:
    logprobs = optional("object", properties={
        "tokens": array(STRING), "token_logprobs": array({"type": "number"}),
        "top_logprobs": array({"type": "object",
                                "additionalProperties": {"type": "number"}}),
        "text_offset": array(COUNT)},
        required=["tokens", "token_logprobs", "top_logprobs", "text_offset"])
    choice = lambda finish: obj(  # noqa: E731
        {"text": STRING, "index": COUNT, "logprobs": logprobs, "finish_reason": finish},
        "text", "index", "logprobs", "finish_reason")
    fields = OPENAI_BASE | {"object": {"const": "text_completion"}}
    required = (*OPENAI_BASE, "object", "choices")
    return {
        "Completion": obj(fields | {
            "choices": array(choice(FINISH), minItems=1, maxItems=1),
            "usage": ref("Usage")}, *required, "usage"),
        "CompletionChunk": obj(fields | {
            "choices": array(choice(FINISH_OR_NULL), maxItems=1),
            "usage": {"anyOf": [ref("Usage"), {"type": "null"}]}}, *required),
    }


def _embedding_schemas() -> dict:
    vector = {"anyOf": [array({"type": "number"}), {
        "type": "string", "description": "base64 of little-endian float32s"}]}
    return {"EmbeddingList": obj({
        "object": {"const": "list"}, "model": STRING,
        "data": array(obj({"object": {"const": "embedding"}, "index": COUNT,
                                "embedding": vector}, "object", "index", "embedding"),
                       minItems=1),
        "usage": obj({"prompt_tokens": COUNT, "total_tokens": COUNT},
                         "prompt_tokens", "total_tokens")},
        "object", "model", "data", "usage")}


def _sse(chunk: str) -> dict:
    event = obj({"data": {
        "type": "string",
        "if": {"const": "[DONE]"},
        "else": {"contentMediaType": "application/json", "contentSchema": {
            "anyOf": [ref(chunk), ref("OpenAIError")]}}}}, "data")
    return {"text/event-stream": {"schema": event | {
        "description": f"Server-sent events: `data:` lines, each a {chunk} (or an error, "
                       "if the generation fails), the last `data: [DONE]`."}}}


def openai_paths() -> dict:
    errors = lambda *statuses: error_responses("OpenAIError", *statuses)  # noqa: E731
    generation = errors(*OPENAI_GENERATION_ERRORS)
    return {
        "/v1/models": {"get": operation(
            "The models this key may use", "OpenAI", operationId="openaiModelsList",
            responses=ok(json_content(ref("ModelList"))) | errors(401, 405))},
        "/v1/models/{name}": {"get": operation(
            "One model", "OpenAI", operationId="openaiModelRetrieve", parameters=[{
                "name": "name", "in": "path", "required": True, "schema": model_name()}],
            responses=ok(json_content(ref("Model"))) | errors(401, 404, 405))},
        "/v1/chat/completions": {"post": operation(
            "A chat completion", "OpenAI", operationId="openaiChatCompletion",
            body=_chat_request(), responses=ok(
                json_content(ref("ChatCompletion")) | _sse("ChatCompletionChunk"),
                "The completion, or its chunks when stream is true.") | generation)},
        "/v1/completions": {"post": operation(
            "A raw text completion", "OpenAI", operationId="openaiCompletion",
            body=_completion_request(), responses=ok(
                json_content(ref("Completion")) | _sse("CompletionChunk"),
                "The completion, or its chunks when stream is true.") | generation)},
        "/v1/embeddings": {"post": operation(
            "Embeddings of one text or more", "OpenAI", operationId="openaiEmbeddings",
            body=_embeddings_request(), responses=ok(json_content(ref("EmbeddingList")))
            | errors(400, 401, 404, 405, 413, 429, 502, 503, 504))},
        "/v1/openapi.json": {"get": operation(
            "This document", "OpenAI", operationId="openapiDocument", public=True,
            responses=ok(json_content(obj({}, "openapi", "info", "paths"))) | errors(405))},
    }
