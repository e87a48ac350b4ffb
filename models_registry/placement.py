"""Where a model's replicas run: enough memory first, nodes that already host it next,
then the fullest node that still fits (packing leaves big holes for big models)."""
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Sum
from django.utils.translation import gettext as _

from models_registry.explain import bytes_in_words
from models_registry.files import model_relative_paths
from models_registry.gguf_metadata import GGUFMetadata
from models_registry.models import Model, Node, Placement, node_queue_name
from models_registry.selectors import node_is_ready

MARGIN_BYTES = 256 * 1024 * 1024  # compute buffers and the runtime, beside weights and KV


def placement_memory_needed(*, model: Model, slots: int) -> int:
    """Weights + KV cache for ``slots`` replies at the model's context length + a margin."""
    if not model.metadata:
        raise ValidationError(_("%(model)s's file header has not been read")
                              % {"model": model.name})
    kv = GGUFMetadata(**model.metadata).kv_cache_bytes(model.context_length * slots)
    return model.file_size + kv + MARGIN_BYTES


def node_capacity(node: Node) -> int:
    """GPU memory where the node has GPUs, else its RAM."""
    gpu_total = sum(gpu.get("memory_total", 0) for gpu in node.gpus)
    return gpu_total or node.ram_bytes


def node_free_memory(node: Node) -> int:
    # A failed replica loaded nothing (its pull or its load failed): it keeps its row, with
    # the error, until undeployed, but not the memory.
    claimed = (node.placements.exclude(state=Placement.State.FAILED)
               .aggregate(total=Sum("memory_bytes"))["total"] or 0)
    return node_capacity(node) - claimed


def placement_plan(*, model: Model, replicas: int, slots: int) -> list[Node]:
    """The nodes for ``replicas`` new replicas; ValidationError that says why if none fit."""
    needed = placement_memory_needed(model=model, slots=slots)
    candidates = [node for node in Node.objects.filter(accepts_placements=True)
                  .exclude(placements__model=model) if node_is_ready(node)]
    free = {node.pk: node_free_memory(node) for node in candidates}
    fitting = [node for node in candidates if free[node.pk] >= needed]
    if len(fitting) < replicas:
        raise ValidationError(_refusal(model, needed, replicas, candidates, fitting, free))
    fitting.sort(key=lambda node: (not _node_holds_file(node, model), free[node.pk]))
    return fitting[:replicas]


def _node_holds_file(node: Node, model: Model) -> bool:
    """The node has the model's file already (no download), or serves it."""
    return model.name in node.model_names or model.file_path in node.files


def _refusal(model, needed, replicas, candidates, fitting, free) -> str:
    if not candidates:
        return _("%(model)s needs %(size)s; no ready node without it") % {
            "model": model.name, "size": bytes_in_words(needed)}
    best = max(free.values())
    return _("%(model)s needs %(size)s per replica; %(fit)d of %(replicas)d replicas fit "
             "(best node has %(free)s free)") % {
        "model": model.name, "size": bytes_in_words(needed), "fit": len(fitting),
        "replicas": replicas, "free": bytes_in_words(max(best, 0))}


def model_deploy(*, model: Model, replicas: int, slots: int) -> list[Placement]:
    """Place ``replicas`` more replicas of ``model`` with ``slots`` slots each; each chosen
    node's worker then pulls the file, loads it and takes the model's queue."""
    if replicas < 1 or slots < 1:
        raise ValidationError(_("replicas and slots must be at least 1"))
    with transaction.atomic():
        nodes = placement_plan(model=model, replicas=replicas, slots=slots)
        needed = placement_memory_needed(model=model, slots=slots)
        placements = [Placement.objects.create(model=model, node=node, slots=slots,
                                               memory_bytes=needed) for node in nodes]
        for placement in placements:
            transaction.on_commit(lambda placement=placement: _prepare(placement))
    return placements


def _prepare(placement: Placement) -> None:
    from models_registry.tasks import placement_prepare

    placement_prepare.apply_async(args=[placement.pk], queue=node_queue_name(placement.node.name))


def model_undeploy(*, model: Model) -> int:
    """Remove every replica of ``model``: their nodes stop serving it, their memory is
    free again. The files stay on the nodes, for a later deploy."""
    return _release(model, remove_files=False)


def model_delete(*, model: Model) -> None:
    """Delete ``model``; its replicas stop, and its files go from every node where no
    other placed model uses them. Refused, with nothing changed, while conversations use it
    (their messages must keep their model)."""
    try:
        with transaction.atomic():  # a refusal rolls back the release and its queued tasks
            _release(model, remove_files=True)
            model.delete()
    except ProtectedError:
        raise ValidationError(
            _("Conversations use %(model)s, so it stays: disable it to take it out of the "
              "picker, or undeploy it to free its nodes.") % {"model": model.name}) from None


def _release(model: Model, *, remove_files: bool) -> int:
    with transaction.atomic():
        placements = list(Placement.objects.filter(model=model).select_related("node"))
        nodes = {placement.node.name for placement in placements}
        if remove_files:  # any node may hold a copy; one that is down deletes it on return
            nodes |= set(Node.objects.values_list("name", flat=True))
        Placement.objects.filter(pk__in=[placement.pk for placement in placements]).delete()
        args = [model.name, model.backend, model_relative_paths(model), remove_files]
        for node_name in nodes:
            transaction.on_commit(lambda node_name=node_name: _release_on(node_name, args))
    return len(placements)


def _release_on(node_name: str, args: list) -> None:
    from models_registry.tasks import placement_release

    placement_release.apply_async(args=args, queue=node_queue_name(node_name))
