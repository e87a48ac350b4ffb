"""/v1 speaks OpenAI's API, /api Ollama's; both take the same API keys."""
from django.urls import path, re_path

from llmhub.api import ollama, openai
from llmhub.api.openapi import openapi_document

openai_urls = [
    path("models", openai.models_list),
    path("models/<path:name>", openai.model_retrieve),
    path("chat/completions", openai.chat_completions),
    path("completions", openai.completions),
    path("embeddings", openai.embeddings),
    path("openapi.json", openapi_document, name="openapi"),
    re_path(r"^(?P<rest>.*)$", openai.not_found),  # JSON, not Django's HTML page
]

ollama_urls = [
    path("version", ollama.version),
    path("tags", ollama.tags),
    path("ps", ollama.running),
    path("show", ollama.show),
    path("chat", ollama.chat),
    path("generate", ollama.generate),
    path("embed", ollama.embed),
    path("pull", ollama.pull),
    path("delete", ollama.delete),
    re_path(r"^(?P<rest>.*)$", ollama.not_found),
]
