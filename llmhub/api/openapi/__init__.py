"""The OpenAPI 3.1 description of both APIs, served at /v1/openapi.json without a key.

Each bound here mirrors a check in fields.py, openai.py or ollama.py; change them together
(tests/llmhub/test_openapi.py runs schemathesis against the live hub to catch drift).
Request bodies allow extra properties, because clients send fields the hub ignores, and a
field the view reads only in some requests is typed under an ``if`` (``read_when``);
response objects require exactly what the views always send.

Streams: an SSE response's schema describes one event (``data`` holds a JSON chunk or
``[DONE]``), as schemathesis and OpenAPI 3.2's ``itemSchema`` read it. An NDJSON response
is a string; ``x-itemSchema`` on its media type names the schema of each line.
"""
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from llmhub.api.calls import ApiError
from llmhub.api.openai import openai_error
from llmhub.api.openapi.ollama import ollama_paths, ollama_schemas
from llmhub.api.openapi.openai import openai_paths, openai_schemas

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
        "paths": openai_paths() | ollama_paths(),
        "components": {
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "An llmhub API key: Authorization: Bearer <key>."}},
            "schemas": openai_schemas() | ollama_schemas(),
        },
    }


@csrf_exempt  # a POST gets the API's 405, not the CSRF failure page
def openapi_document(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = openai_error(ApiError(
            405, f"{request.method} is not allowed here; use GET"))
        response["Allow"] = "GET, HEAD"
        return response
    return JsonResponse(openapi_spec())
