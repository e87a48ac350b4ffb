"""What a worker process hosts, and the heartbeats that tell the hub it is alive."""
import logging
import os
import shutil
import socket
import threading
import time

import psutil
from django.conf import settings
from django.utils import timezone

from llmhub.env import env_list
from llmhub.redis import redis_client
from models_registry.models import Model, Node
from models_registry.selectors import model_list_enabled, model_workers_key, worker_key

log = logging.getLogger(__name__)


def worker_models_to_serve() -> list[str]:
    """Names of the models this worker hosts: LLMHUB_WORKER_MODELS, or every enabled
    local model registered when the worker starts."""
    names = env_list("LLMHUB_WORKER_MODELS", [])
    if names:
        return names
    local = model_list_enabled().filter(backend=Model.Backend.LLAMACPP)
    return list(local.values_list("name", flat=True))


def worker_slots_total() -> int:
    """Task threads a worker needs: one per slot of each model it hosts, so every slot
    can be busy while more replies wait in the queue, not in the worker."""
    names = worker_models_to_serve()
    slots = Model.objects.filter(name__in=names).values_list("slots", flat=True)
    return max(1, sum(slots))


def node_register(*, worker_name: str, model_names: list[str]) -> Node:
    """Record this worker's box: what it has, what it hosts."""
    now = timezone.now()
    node, _ = Node.objects.update_or_create(
        name=worker_name,
        defaults={
            "host": socket.gethostname(),
            "cpu_count": os.cpu_count() or 0,
            "ram_bytes": psutil.virtual_memory().total,
            "disk_free_bytes": shutil.disk_usage(settings.DATA_DIR).free,
            "model_names": model_names,
            "started_at": now,
            "last_seen": now,
        },
    )
    return node


def worker_heartbeat(*, worker_name: str, model_names: list[str]) -> None:
    seen = Node.objects.filter(name=worker_name).update(
        last_seen=timezone.now(), disk_free_bytes=shutil.disk_usage(settings.DATA_DIR).free
    )
    if not seen:  # an admin deleted the row, or the database is new: register again
        node_register(worker_name=worker_name, model_names=model_names)
    now = time.time()
    ttl = settings.WORKER_HEARTBEAT_SECONDS * 3
    pipe = redis_client().pipeline()
    pipe.set(worker_key(worker_name), now, ex=ttl)
    for model_name in model_names:
        pipe.zadd(model_workers_key(model_name), {worker_name: now})
    pipe.execute()


def worker_forget(*, worker_name: str, model_names: list[str]) -> None:
    pipe = redis_client().pipeline()
    pipe.delete(worker_key(worker_name))
    for model_name in model_names:
        pipe.zrem(model_workers_key(model_name), worker_name)
    pipe.execute()


def worker_heartbeat_start(*, worker_name: str, model_names: list[str]) -> threading.Event:
    """Beat from a daemon thread until the returned event is set."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                worker_heartbeat(worker_name=worker_name, model_names=model_names)
            except Exception:  # a Redis or database blip must not end the heartbeats
                log.exception("heartbeat failed")
            stop.wait(settings.WORKER_HEARTBEAT_SECONDS)

    threading.Thread(target=beat, name="llmhub-heartbeat", daemon=True).start()
    return stop
