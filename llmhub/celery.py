"""The Celery app: the distribution engine between the web process and the workers."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "llmhub.settings")

app = Celery("llmhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker-side signal handlers (queues per served model, heartbeats); importing them
# loads no inference code.
import models_registry.worker_signals  # noqa: E402,F401
