"""Reads from the registry, including which workers serve a model right now."""
import time

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from llmhub.redis import redis_client
from models_registry.models import Model, Node


def model_list_enabled() -> QuerySet[Model]:
    return Model.objects.filter(enabled=True)


def model_list_for_user(user: AbstractBaseUser) -> QuerySet[Model]:
    """The enabled models ``user`` may pick: those without groups, those of a group the
    user is in, and every one for staff."""
    return model_list_enabled().filter(_groups_admit(user))


def model_user_may_use(*, user: AbstractBaseUser, model: Model) -> bool:
    """Whether the model's groups let ``user`` use it, enabled or not."""
    return Model.objects.filter(_groups_admit(user), pk=model.pk).exists()


def _groups_admit(user: AbstractBaseUser) -> Q:
    if user.is_staff:
        return Q()
    # Exists rather than a join on groups: a model in two of the user's groups stays one
    # row, without a DISTINCT that would get in the way of callers' own ordering.
    memberships = Model.groups.through.objects.filter(model=OuterRef("pk"))
    return ~Exists(memberships) | Exists(memberships.filter(group__user=user))


def _liveness_window() -> float:
    # Three missed heartbeats and a worker counts as gone.
    return settings.WORKER_HEARTBEAT_SECONDS * 3


def model_workers_key(model_name: str) -> str:
    return f"llmhub:model:{model_name}:workers"


def worker_key(worker_name: str) -> str:
    return f"llmhub:worker:{worker_name}"


def model_workers_name(model: Model) -> str:
    """Whose workers serve ``model``: its own name, or the remote queue's for a remote
    backend (every worker relays those)."""
    from models_registry.models import REMOTE_QUEUE

    return model.name if model.backend == Model.Backend.LLAMACPP else REMOTE_QUEUE


def model_live_workers(model_name: str) -> list[str]:
    since = time.time() - _liveness_window()
    return redis_client().zrangebyscore(model_workers_key(model_name), since, "+inf")


def node_is_ready(node: Node) -> bool:
    """Ready while it heart-beats; not ready after three missed beats, ready again when
    it beats again."""
    return time.time() - node.last_seen.timestamp() < _liveness_window()


def worker_is_alive(worker_name: str) -> bool:
    return bool(redis_client().exists(worker_key(worker_name)))


def cluster_snapshot() -> dict:
    """Nodes and replicas as the admin pages show them live: readiness, resources, load,
    and each replica's state with its pull progress (bytes, rate, ETA)."""
    from models_registry.models import Placement
    from models_registry.pull import pull_progress_read

    nodes = [_node_row(node) for node in Node.objects.all()]
    placements = list(Placement.objects.select_related("model", "node").order_by("model__name",
                                                                                  "node__name"))
    progress = pull_progress_read([placement.pk for placement in placements])
    return {"nodes": nodes,
            "placements": [_placement_row(p, progress.get(p.pk)) for p in placements]}


def _node_row(node: Node) -> dict:
    from models_registry.placement import node_capacity, node_free_memory

    return {
        "name": node.name, "host": node.host, "ready": node_is_ready(node),
        "accepts_placements": node.accepts_placements, "cpu_count": node.cpu_count,
        "ram_bytes": node.ram_bytes, "disk_free_bytes": node.disk_free_bytes,
        "gpus": node.gpus, "models": node.model_names, "files": node.files,
        "active_tasks": node.active_tasks, "task_slots": node.task_slots,
        "capacity_bytes": node_capacity(node), "free_bytes": node_free_memory(node),
        "last_seen": node.last_seen.isoformat(),
    }


def _placement_row(placement, progress: dict | None) -> dict:
    row = {"id": placement.pk, "model": placement.model.name, "model_id": placement.model_id,
           "node": placement.node.name, "slots": placement.slots,
           "memory_bytes": placement.memory_bytes, "state": placement.state,
           "error": placement.error, "progress": None}
    if progress:
        row["progress"] = {"done": int(progress["done"]), "total": int(progress["total"]),
                           "rate": int(progress["rate"]),
                           "eta": float(progress["eta"]) if progress["eta"] else None}
    return row
