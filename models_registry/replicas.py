"""A worker's side of placement: prepare the replicas placed on its node (pull, load,
serve) and release them. Runs in Celery tasks on the node's own queue."""
import logging

from django.utils import timezone

from inference.backends import BackendError
from models_registry.download import DownloadError
from models_registry.files import (
    files_remove,
    model_is_pulled,
    model_local_path,
    model_relative_paths,
)
from models_registry.gguf_metadata import GGUFError, gguf_metadata_read
from models_registry.models import Model, Placement
from models_registry.pull import PullProgress, model_pull, pull_progress_key, remote_metadata
from models_registry.serving import (
    model_serve,
    model_stop_serving,
    served_model_names,
)
from models_registry.serving import worker_name as this_worker_name
from models_registry.worker import node_refresh, worker_models_pinned

log = logging.getLogger(__name__)
State = Placement.State


def replica_prepare(placement_id: int, *, worker_name: str, last_try: bool) -> bool:
    """Pull the replica's files if this box lacks them, load the model, take its queue.
    Return True when a transient failure is worth another try."""
    placement = Placement.objects.select_related("model", "node").filter(pk=placement_id).first()
    if placement is None or placement.node.name != worker_name:
        return False  # undeployed meanwhile, or not ours
    model = placement.model
    try:
        if model_is_pulled(model):
            _replica_state(placement_id, State.PULLING)
            _pull_with_progress(model, placement_id)
        elif not model_local_path(model).is_file():
            raise DownloadError(f"{model_local_path(model)} is not on {worker_name}'s disk",
                                permanent=True)
        if not Placement.objects.filter(pk=placement_id).exists():
            return False  # undeployed while pulling: the release task frees the rest
        _replica_state(placement_id, State.LOADING)
        model_serve(model, slots=placement.slots)
        _replica_state(placement_id, State.READY)
        node_refresh(worker_name=worker_name, model_names=served_model_names())
    except DownloadError as error:
        if not error.permanent and not last_try:
            _replica_state(placement_id, State.PULLING, f"{error.message}; trying again")
            return True
        _replica_state(placement_id, State.FAILED, error.message)
    except (BackendError, GGUFError) as error:
        _replica_state(placement_id, State.FAILED, str(error))
    except Exception as error:  # the reason must reach the admin page, not only a log
        log.exception("preparing replica %s failed", placement_id)
        _replica_state(placement_id, State.FAILED, f"unexpected error: {error}")
    return False


def _pull_with_progress(model: Model, placement_id: int) -> None:
    progress = PullProgress(pull_progress_key(placement_id), total=model.file_size)
    model_pull(model, on_progress=lambda done, total: progress.update(done))
    progress.update(model.file_size, force=True)


def _replica_state(placement_id: int, state: str, error: str = "") -> None:
    Placement.objects.filter(pk=placement_id).update(state=state, error=error,
                                                     updated_at=timezone.now())


def replica_release(*, model_name: str, backend: str, relative_paths: list[str],
                    remove_files: bool) -> list[str]:
    """Stop serving ``model_name`` here; with ``remove_files``, delete those of its files
    that no model placed here still uses. Return the files removed."""
    if model_name not in worker_models_pinned():  # pinned by configuration, not placement
        model_stop_serving(model_name, backend)
    removed = []
    if remove_files:
        removed = files_remove([path for path in relative_paths if path not in _files_in_use()])
    node_refresh(worker_name=this_worker_name(), model_names=served_model_names())
    return removed


def _files_in_use() -> set[str]:
    placed = Model.objects.filter(placements__isnull=False).distinct()
    return {path for model in placed for path in model_relative_paths(model)}


def model_header_read(model_id: int) -> None:
    """Read a registered model's GGUF header from its source, before any pull: placement
    needs its layers and heads to size the KV cache."""
    model = Model.objects.filter(pk=model_id).first()
    if model is None:
        return
    try:
        if model_is_pulled(model):
            metadata, total_size = remote_metadata(model)
        else:  # a path on the nodes' disks: read where this worker runs
            metadata = gguf_metadata_read(model_local_path(model))
            total_size = metadata.file_size
    except (DownloadError, GGUFError) as error:
        Model.objects.filter(pk=model_id).update(error=getattr(error, "message", str(error)))
        return
    context = min(model.context_length, metadata.context_length or model.context_length)
    Model.objects.filter(pk=model_id).update(
        metadata=metadata.as_dict(), file_size=total_size, context_length=context, error="")
