"""Celery worker hooks: consume this node's queue and the queues of the models it serves,
prepare the replicas placed on it, and beat."""
from celery.signals import celeryd_after_setup, worker_ready, worker_shutdown

_state: dict = {}


@celeryd_after_setup.connect
def consume_model_queues(sender: str, instance, **kwargs) -> None:
    import django

    django.setup()
    from models_registry.models import REMOTE_QUEUE, model_queue_name, node_queue_name
    from models_registry.serving import serving_start
    from models_registry.worker import worker_models_to_serve

    names = worker_models_to_serve()
    instance.app.amqp.queues.select_add(node_queue_name(sender))
    instance.app.amqp.queues.select_add(REMOTE_QUEUE)
    for name in names:
        instance.app.amqp.queues.select_add(model_queue_name(name))
        instance.app.amqp.queues.select_add(model_queue_name(name, sender))
    serving_start(worker_name=sender, model_names=names)
    _state["worker_name"] = sender
    _state["task_slots"] = instance.concurrency


@worker_ready.connect
def start_heartbeat(**kwargs) -> None:
    from models_registry.serving import served_model_names
    from models_registry.tasks import placements_resume
    from models_registry.worker import node_register, worker_heartbeat_start

    worker_name = _state["worker_name"]
    node_register(worker_name=worker_name, model_names=served_model_names(),
                  task_slots=_state["task_slots"])
    _state["stop"] = worker_heartbeat_start(worker_name=worker_name,
                                            model_names=served_model_names,
                                            task_slots=_state["task_slots"])
    # Replicas placed here while the worker was away, or whose pull a crash cut short.
    placements_resume(worker_name)


@worker_shutdown.connect
def stop_heartbeat(**kwargs) -> None:
    from models_registry.serving import served_model_names
    from models_registry.worker import worker_forget

    if "stop" in _state:
        _state["stop"].set()
        worker_forget(worker_name=_state["worker_name"], model_names=served_model_names())
