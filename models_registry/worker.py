"""What a worker process hosts, and the heartbeats that tell the hub it is alive."""
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable

import psutil
from django.conf import settings
from django.utils import timezone

from llmhub.env import env_list
from llmhub.redis import redis_client
from models_registry.files import model_local_path, models_dir_files
from models_registry.models import REMOTE_QUEUE, Model, Node, Placement
from models_registry.selectors import model_list_enabled, model_workers_key, worker_key

log = logging.getLogger(__name__)


def worker_models_pinned() -> list[str]:
    """LLMHUB_WORKER_MODELS pins a worker to those models; it then takes no placements."""
    return env_list("LLMHUB_WORKER_MODELS", [])


def worker_models_to_serve() -> list[str]:
    """Models a worker serves from its start: the pinned ones, else every enabled model on
    a path of the node's disk that is placed nowhere and whose file is here. Replicas
    placed on the node are prepared by tasks on its own queue once it runs."""
    pinned = worker_models_pinned()
    if pinned:
        return pinned
    local = model_list_enabled().filter(
        backend=Model.Backend.LLAMACPP, source_kind=Model.SourceKind.LOCAL_FILE,
        placements__isnull=True,
    )
    return [model.name for model in local if model_local_path(model).is_file()]


def worker_slots_total(worker_name: str = "") -> int:
    """Task threads a worker needs: one per slot of each model it serves or hosts a
    replica of, so every slot can be busy while more replies wait in the queue, not in
    the worker; and one for pulls."""
    names = worker_models_to_serve()
    slots = sum(Model.objects.filter(name__in=names).values_list("slots", flat=True))
    if worker_name and not worker_models_pinned():
        slots += sum(Placement.objects.filter(node__name=worker_name)
                     .values_list("slots", flat=True))
    return max(1, slots) + 1


def gpus_read() -> list[dict]:
    """The box's NVIDIA GPUs with total and free memory; [] where there is no driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # no NVIDIA driver or library on this box: a CPU node
        return []
    try:
        return [_gpu_read(pynvml, index) for index in range(pynvml.nvmlDeviceGetCount())]
    finally:
        pynvml.nvmlShutdown()


def _gpu_read(pynvml, index: int) -> dict:
    handle = pynvml.nvmlDeviceGetHandleByIndex(index)
    memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
    name = pynvml.nvmlDeviceGetName(handle)
    return {"index": index, "name": name.decode() if isinstance(name, bytes) else name,
            "memory_total": int(memory.total), "memory_free": int(memory.free)}


def _active_tasks() -> int:
    from celery.worker import state

    return len(state.active_requests)


def node_register(*, worker_name: str, model_names: list[str], task_slots: int = 0) -> Node:
    """Record this worker's box: what it has, what it hosts."""
    now = timezone.now()
    node, _ = Node.objects.update_or_create(
        name=worker_name,
        defaults={
            "host": socket.gethostname(),
            "cpu_count": os.cpu_count() or 0,
            "ram_bytes": psutil.virtual_memory().total,
            "disk_free_bytes": _disk_free(),
            "gpus": gpus_read(),
            "accepts_placements": not worker_models_pinned(),
            "files": models_dir_files(),
            "model_names": model_names,
            "task_slots": task_slots,
            "started_at": now,
            "last_seen": now,
        },
    )
    return node


def _disk_free() -> int:
    settings.MODELS_DIR.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(settings.MODELS_DIR).free


def worker_heartbeat(*, worker_name: str, model_names: list[str], task_slots: int = 0) -> None:
    seen = Node.objects.filter(name=worker_name).update(
        last_seen=timezone.now(), disk_free_bytes=_disk_free(), gpus=gpus_read(),
        files=models_dir_files(), model_names=model_names, active_tasks=_active_tasks(),
    )
    if not seen:  # an admin deleted the row, or the database is new: register again
        node_register(worker_name=worker_name, model_names=model_names, task_slots=task_slots)
    now = time.time()
    ttl = settings.WORKER_HEARTBEAT_SECONDS * 3
    pipe = redis_client().pipeline()
    pipe.set(worker_key(worker_name), now, ex=ttl)
    for model_name in [*model_names, REMOTE_QUEUE]:  # every worker relays remote backends
        pipe.zadd(model_workers_key(model_name), {worker_name: now})
    pipe.execute()


def node_refresh(*, worker_name: str, model_names: list[str]) -> None:
    """Update what the node serves and holds now, without waiting for the next beat."""
    Node.objects.filter(name=worker_name).update(model_names=model_names,
                                                 files=models_dir_files())


def worker_forget(*, worker_name: str, model_names: list[str]) -> None:
    pipe = redis_client().pipeline()
    pipe.delete(worker_key(worker_name))
    for model_name in [*model_names, REMOTE_QUEUE]:
        pipe.zrem(model_workers_key(model_name), worker_name)
    pipe.execute()


def worker_heartbeat_start(*, worker_name: str, model_names: Callable[[], list[str]],
                           task_slots: int) -> threading.Event:
    """Beat from a daemon thread until the returned event is set, for the models
    ``model_names()`` says this worker serves at each beat."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                worker_heartbeat(worker_name=worker_name, model_names=model_names(),
                                 task_slots=task_slots)
            except Exception:  # a Redis or database blip must not end the heartbeats
                log.exception("heartbeat failed")
            stop.wait(settings.WORKER_HEARTBEAT_SECONDS)

    threading.Thread(target=beat, name="llmhub-heartbeat", daemon=True).start()
    return stop
