"""Celery finds an app's tasks in its ``tasks`` module: the API's one task lives beside the
code that waits for it."""
from llmhub.api.embeddings import embed

__all__ = ["embed"]
