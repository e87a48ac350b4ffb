"""Celery worker hooks: consume the queues of the models this worker hosts, and beat."""
from celery.signals import celeryd_after_setup, worker_ready, worker_shutdown

_state: dict = {}


@celeryd_after_setup.connect
def consume_model_queues(sender: str, instance, **kwargs) -> None:
    import django

    django.setup()
    from models_registry.models import model_queue_name
    from models_registry.worker import worker_models_to_serve

    names = worker_models_to_serve()
    for name in names:
        instance.app.amqp.queues.select_add(model_queue_name(name))
        instance.app.amqp.queues.select_add(model_queue_name(name, sender))
    _state["worker_name"] = sender
    _state["model_names"] = names


@worker_ready.connect
def start_heartbeat(**kwargs) -> None:
    from models_registry.worker import node_register, worker_heartbeat_start

    node_register(worker_name=_state["worker_name"], model_names=_state["model_names"])
    _state["stop"] = worker_heartbeat_start(
        worker_name=_state["worker_name"], model_names=_state["model_names"]
    )


@worker_shutdown.connect
def stop_heartbeat(**kwargs) -> None:
    from models_registry.worker import worker_forget

    if "stop" in _state:
        _state["stop"].set()
        worker_forget(worker_name=_state["worker_name"], model_names=_state["model_names"])
