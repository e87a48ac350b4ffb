"""The OpenAPI document at /v1/openapi.json: valid, served without a key, and true to the
live hub. Schemathesis sends generated requests, valid and invalid, to every operation but
the admin ones (pull, delete) and checks each answer against the document; a few written
requests cover what generation rarely reaches (streams with usage and logprobs, 413, 429)."""
import copy
import json

import httpx
import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from llmhub.api.keys import api_key_create
from llmhub.api.openapi import openapi_spec
from models_registry.demo import DEMO_MODEL_NAME

# Each valid generation request is real llama.cpp work: keep replies this short.
REPLY_TOKENS = 8
TOKEN_FIELDS = ("max_tokens", "max_completion_tokens", "num_predict")
ADMIN_OPERATIONS = ["ollamaPull", "ollamaDelete"]
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance",
          "negative_data_rejection"]
CONFIG = {
    # "all": valid requests and invalid ones, which must get a 4xx and never a 5xx.
    # Deterministic, so a failure comes back on the next run.
    "generation": {"mode": "all", "max-examples": 25, "database": "none",
                   "deterministic": True},
    "phases": {"stateful": {"enabled": False}},
    "checks": {"enabled": False} | {name: {"enabled": True} for name in CHECKS},
}


def test_the_document_is_valid_openapi():
    schema = schemathesis.openapi.from_dict(openapi_spec())
    schema.validate()
    operations = {result.ok().label for result in schema.get_all_operations()}
    assert {"POST /v1/chat/completions", "GET /api/tags", "DELETE /api/delete"} <= operations


def test_it_is_served_without_a_key(hub_url):
    response = httpx.get(f"{hub_url}/v1/openapi.json")
    assert response.status_code == 200 and response.json() == json.loads(
        json.dumps(openapi_spec()))
    refused = httpx.post(f"{hub_url}/v1/openapi.json")
    assert refused.status_code == 405 and refused.headers["Allow"] == "GET, HEAD"


def _spec_for_the_run() -> dict:
    """The document with the model narrowed to the demo one: a random name is a 404 that
    reaches nothing."""
    spec = copy.deepcopy(openapi_spec())
    for item in spec["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                parameter["schema"] = {"const": DEMO_MODEL_NAME}
            body = operation.get("requestBody", {}).get("content", {})
            properties = body.get("application/json", {}).get("schema", {}).get("properties")
            if properties and "model" in properties:
                properties["model"] = {"const": DEMO_MODEL_NAME}
    return spec


schema = schemathesis.openapi.from_dict(
    _spec_for_the_run(), config=SchemathesisConfig.from_dict(CONFIG),
).exclude(operation_id=ADMIN_OPERATIONS)


@pytest.fixture
def short_replies(demo_model):
    demo_model.max_tokens = REPLY_TOKENS
    demo_model.save()
    return demo_model


@pytest.fixture
def api_key(alice, short_replies) -> str:
    return api_key_create(owner=alice, name="schemathesis")[1]


@schema.parametrize()
# The key and the model are the same for every generated request: nothing to reset.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_hub_answers_as_documented(case, hub_url, api_key):
    _shorten(case.body)
    _call_and_validate(case, hub_url, api_key)


def _shorten(body: object) -> None:
    """Replies of REPLY_TOKENS at most: the views cap a request's max_tokens at the model's
    context length, not at its max_tokens. Done on the generated body rather than in the
    schema, where a lower maximum would make larger valid values negative cases."""
    if not isinstance(body, dict):
        return
    for name in TOKEN_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > REPLY_TOKENS:
            body[name] = REPLY_TOKENS
    _shorten(body.get("options"))


def _call_and_validate(case, hub_url: str, key: str):
    response = case.call_and_validate(
        base_url=hub_url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    _check_ndjson_lines(case, response)
    return response


def _header(response, wanted: str) -> str:
    return next((values[0] for name, values in response.headers.items()
                 if name.lower() == wanted.lower()), "")


def _check_ndjson_lines(case, response) -> None:
    """Schemathesis reads no NDJSON: check each line against the media type's x-itemSchema."""
    if not _header(response, "Content-Type").startswith("application/x-ndjson"):
        return
    definition = case.operation.definition.raw["responses"][str(response.status_code)]
    line_schema = definition["content"]["application/x-ndjson"]["x-itemSchema"]
    validator = jsonschema_rs.validator_for(
        line_schema | {"components": openapi_spec()["components"]})
    lines = response.content.decode().splitlines()
    assert lines and json.loads(lines[-1]).get("done", True), "the stream ends with done"
    for line in lines:
        errors = [error.message for error in validator.iter_errors(json.loads(line))]
        assert not errors, f"{case.operation.label}: {line}: {errors}"


CHAT = [{"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Say yes."}]}]
WRITTEN_REQUESTS = {
    "chat streamed with usage and logprobs": ("POST", "/v1/chat/completions", {
        "messages": CHAT, "stream": True, "stream_options": {"include_usage": True},
        "logprobs": True, "top_logprobs": 2}),
    "chat as JSON with logprobs": ("POST", "/v1/chat/completions", {
        "messages": CHAT, "logprobs": True, "top_logprobs": 3, "seed": 1, "temperature": 1,
        "response_format": {"type": "json_object"}, "stop": ["\n\n"]}),
    "completion streamed with usage and logprobs": ("POST", "/v1/completions", {
        "prompt": "The sky is", "stream": True, "stream_options": {"include_usage": True},
        "logprobs": 2}),
    "completion with logprobs 0": ("POST", "/v1/completions", {
        "prompt": ["The sky is"], "logprobs": 0, "echo": False}),
    "embeddings in base64": ("POST", "/v1/embeddings", {
        "input": ["a cat", "a dog"], "encoding_format": "base64"}),
    "ollama chat streamed": ("POST", "/api/chat", {
        "messages": [{"role": "user", "content": "Say yes."}],
        "options": {"temperature": 0.5, "top_k": 5, "seed": 3}}),
    "ollama generate streamed": ("POST", "/api/generate", {
        "prompt": "Say yes.", "system": "Be brief.", "format": "json"}),
    "ollama generate raw": ("POST", "/api/generate", {
        "prompt": "The sky is", "raw": True, "stream": False}),
    "ollama generate load": ("POST", "/api/generate", {}),
    "ollama embed": ("POST", "/api/embed", {"input": "a cat"}),
}


@pytest.mark.parametrize("method, path, body", WRITTEN_REQUESTS.values(),
                         ids=WRITTEN_REQUESTS.keys())
def test_written_requests_get_documented_answers(hub_url, api_key, method, path, body):
    case = schema[path][method].Case(body={"model": DEMO_MODEL_NAME} | body)
    response = _call_and_validate(case, hub_url, api_key)
    assert response.status_code == 200


def test_a_body_over_the_limit_gets_a_documented_413(hub_url, api_key):
    for path in ("/v1/chat/completions", "/api/chat"):
        case = schema[path]["POST"].Case(body={"model": DEMO_MODEL_NAME, "messages": [
            {"role": "user", "content": "a" * (5 * 1024 * 1024)}]})
        assert _call_and_validate(case, hub_url, api_key).status_code == 413


def test_a_key_over_its_limit_gets_a_documented_429(hub_url, alice, short_replies):
    _, key = api_key_create(owner=alice, name="one a minute", requests_per_minute=1)
    show = schema["/api/show"]["POST"].Case(body={"model": DEMO_MODEL_NAME})
    assert _call_and_validate(show, hub_url, key).status_code == 200
    assert _call_and_validate(show, hub_url, key).status_code == 429
    embed = schema["/v1/embeddings"]["POST"].Case(body={"model": DEMO_MODEL_NAME,
                                                        "input": "a cat"})
    response = _call_and_validate(embed, hub_url, key)
    assert response.status_code == 429 and int(_header(response, "Retry-After")) >= 0
