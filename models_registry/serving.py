"""What this worker process serves: the models whose queues it consumes, with the slots
each has here. Worker-side state, set when the worker starts and when a replica placed
on its node becomes ready or is released.
"""
import logging
import threading

from django.conf import settings

from inference.types import ModelSpec
from models_registry.models import Model, model_queue_name

log = logging.getLogger(__name__)

_lock = threading.Lock()
_served: dict[str, int] = {}  # model name -> slots on this worker (0: the model's own)
_worker: dict[str, str] = {"name": ""}


def serving_start(*, worker_name: str, model_names: list[str]) -> None:
    with _lock:
        _worker["name"] = worker_name
        _served.clear()
        _served.update(dict.fromkeys(model_names, 0))


def worker_name() -> str:
    return _worker["name"]


def served_model_names() -> list[str]:
    with _lock:
        return list(_served)


def model_spec(model: Model) -> ModelSpec:
    """What a worker's engine needs of a model row, with this worker's settings and the
    slots of the replica placed here."""
    from models_registry.files import model_local_path

    if model.backend != Model.Backend.LLAMACPP:
        return ModelSpec(
            name=model.name, backend=model.backend, file_path="",
            context_length=model.context_length, base_url=model.base_url,
            remote_name=model.remote_name or model.name, api_key_env=model.api_key_env,
            timeout_seconds=settings.REMOTE_TIMEOUT_SECONDS,
        )
    with _lock:
        slots = _served.get(model.name) or model.slots
    return ModelSpec(
        name=model.name,
        backend=model.backend,
        file_path=str(model_local_path(model)),
        context_length=model.context_length,
        n_threads=settings.LLAMA_THREADS,
        n_gpu_layers=settings.LLAMA_GPU_LAYERS,
        slots=slots,
    )


def model_serve(model: Model, *, slots: int) -> None:
    """Load ``model`` here and start taking its replies: its queue, and this worker's own
    queue for it (the next turns of conversations whose KV cache it holds)."""
    from inference.backends import backend_get

    with _lock:
        _served[model.name] = slots
    backend_get(model.backend).load(model_spec(model))
    _consume([model_queue_name(model.name), model_queue_name(model.name, worker_name())])


def model_stop_serving(model_name: str, backend: str = Model.Backend.LLAMACPP) -> None:
    """Stop taking ``model_name``'s replies and free its engine."""
    from inference.backends import backend_get

    with _lock:
        was_served = _served.pop(model_name, None) is not None
    if was_served:
        _cancel([model_queue_name(model_name), model_queue_name(model_name, worker_name())])
    backend_get(backend).unload(model_name)


def _consume(queues: list[str]) -> None:
    # The consumer belongs to the worker's main thread: ask it through Celery's remote
    # control, the way `celery control add_consumer` does, and wait for its answer.
    from llmhub.celery import app

    for queue in queues:
        replies = app.control.add_consumer(queue, destination=[worker_name()], reply=True,
                                           timeout=10)
        if not replies:
            raise RuntimeError(f"worker {worker_name()} did not confirm consuming {queue}")


def _cancel(queues: list[str]) -> None:
    from llmhub.celery import app

    for queue in queues:
        app.control.cancel_consumer(queue, destination=[worker_name()], reply=True, timeout=10)
