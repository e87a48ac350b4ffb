"""Reads from the registry, including which workers serve a model right now."""
import time

from django.conf import settings
from django.db.models import QuerySet

from llmhub.redis import redis_client
from models_registry.models import Model, Node


def model_list_enabled() -> QuerySet[Model]:
    return Model.objects.filter(enabled=True)


def _liveness_window() -> float:
    # Three missed heartbeats and a worker counts as gone.
    return settings.WORKER_HEARTBEAT_SECONDS * 3


def model_workers_key(model_name: str) -> str:
    return f"llmhub:model:{model_name}:workers"


def worker_key(worker_name: str) -> str:
    return f"llmhub:worker:{worker_name}"


def model_live_workers(model_name: str) -> list[str]:
    since = time.time() - _liveness_window()
    return redis_client().zrangebyscore(model_workers_key(model_name), since, "+inf")


def node_is_ready(node: Node) -> bool:
    """Ready while it heart-beats; not ready after three missed beats, ready again when
    it beats again."""
    return time.time() - node.last_seen.timestamp() < _liveness_window()


def worker_is_alive(worker_name: str) -> bool:
    return bool(redis_client().exists(worker_key(worker_name)))
