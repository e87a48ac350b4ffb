"""Where a model's replicas run: enough memory first, nodes that already host it next,
then the fullest node that still fits (packing leaves big holes for big models)."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from models_registry.explain import bytes_in_words
from models_registry.gguf_metadata import GGUFMetadata
from models_registry.models import Model, Node, Placement
from models_registry.selectors import node_is_ready

MARGIN_BYTES = 256 * 1024 * 1024  # compute buffers and the runtime, beside weights and KV


def placement_memory_needed(*, model: Model, slots: int) -> int:
    """Weights + KV cache for ``slots`` replies at the model's context length + a margin."""
    if not model.metadata:
        raise ValidationError(f"{model.name}'s file header has not been read")
    kv = GGUFMetadata(**model.metadata).kv_cache_bytes(model.context_length * slots)
    return model.file_size + kv + MARGIN_BYTES


def node_capacity(node: Node) -> int:
    """GPU memory where the node has GPUs, else its RAM."""
    gpu_total = sum(gpu.get("memory_total", 0) for gpu in node.gpus)
    return gpu_total or node.ram_bytes


def node_free_memory(node: Node) -> int:
    claimed = node.placements.aggregate(total=Sum("memory_bytes"))["total"] or 0
    return node_capacity(node) - claimed


def placement_plan(*, model: Model, replicas: int, slots: int) -> list[Node]:
    """The nodes for ``replicas`` new replicas; ValidationError that says why if none fit."""
    needed = placement_memory_needed(model=model, slots=slots)
    candidates = [node for node in Node.objects.exclude(placements__model=model)
                  if node_is_ready(node)]
    free = {node.pk: node_free_memory(node) for node in candidates}
    fitting = [node for node in candidates if free[node.pk] >= needed]
    if len(fitting) < replicas:
        raise ValidationError(_refusal(model, needed, replicas, candidates, fitting, free))
    fitting.sort(key=lambda node: (model.name not in node.model_names, free[node.pk]))
    return fitting[:replicas]


def _refusal(model, needed, replicas, candidates, fitting, free) -> str:
    if not candidates:
        return f"{model.name} needs {bytes_in_words(needed)}; no ready node without it"
    best = max(free.values())
    return (f"{model.name} needs {bytes_in_words(needed)} per replica; {len(fitting)} of "
            f"{replicas} replicas fit (best node has {bytes_in_words(max(best, 0))} free)")


def model_deploy(*, model: Model, replicas: int, slots: int) -> list[Placement]:
    """Place ``replicas`` more replicas of ``model`` with ``slots`` slots each."""
    if replicas < 1 or slots < 1:
        raise ValidationError("replicas and slots must be at least 1")
    with transaction.atomic():
        nodes = placement_plan(model=model, replicas=replicas, slots=slots)
        needed = placement_memory_needed(model=model, slots=slots)
        return [Placement.objects.create(model=model, node=node, slots=slots,
                                         memory_bytes=needed) for node in nodes]


def model_undeploy(*, model: Model) -> int:
    """Remove every replica of ``model``; their memory is free again."""
    deleted, _ = Placement.objects.filter(model=model).delete()
    return deleted
