"""Celery tasks of the registry; thin: the work is in models_registry.replicas."""
from celery import shared_task

from models_registry.models import Placement, node_queue_name

PULL_RETRIES = 5
PULL_RETRY_SECONDS = 5


@shared_task(name="models_registry.placement_prepare", bind=True, max_retries=PULL_RETRIES)
def placement_prepare(self, placement_id: int) -> None:
    from models_registry.replicas import replica_prepare

    again = replica_prepare(placement_id, worker_name=self.request.hostname,
                            last_try=self.request.retries >= PULL_RETRIES)
    if again:
        raise self.retry(countdown=PULL_RETRY_SECONDS)


@shared_task(name="models_registry.placement_release")
def placement_release(model_name: str, backend: str, relative_paths: list[str],
                      remove_files: bool) -> None:
    from models_registry.replicas import replica_release

    replica_release(model_name=model_name, backend=backend, relative_paths=relative_paths,
                    remove_files=remove_files)


@shared_task(name="models_registry.model_header_read")
def model_header_read(model_id: int) -> None:
    from models_registry.replicas import model_header_read as read

    read(model_id)


def placements_resume(worker_name: str) -> None:
    """Queue the preparation of every replica placed on this node that has not failed:
    a restarted worker loads what it served and resumes the pulls a crash cut short."""
    placements = Placement.objects.filter(node__name=worker_name).exclude(
        state=Placement.State.FAILED)
    for placement_id in placements.values_list("pk", flat=True):
        placement_prepare.apply_async(args=[placement_id], queue=node_queue_name(worker_name))
