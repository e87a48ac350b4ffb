"""Start the hub's processes (daphne, Celery workers) the way the launcher does."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url_for_children() -> str:
    """A DATABASE_URL for the database pytest-django created, for child processes."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db["USER"] or "")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"])
    return f"postgres://{credentials}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"


# An API key the workers hold in their environment, for remote models that call the hub's
# own API (a test registers it for a user of its own).
TEST_HUB_KEY_ENV = "LLMHUB_TEST_HUB_KEY"
TEST_HUB_KEY = "llmhub-test-key-that-the-workers-hold-in-their-environment"


def hub_processes_env() -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": database_url_for_children(),
        "REDIS_URL": settings.REDIS_URL,
        "LLMHUB_DATA_DIR": str(settings.DATA_DIR),
        "PYTHONUNBUFFERED": "1",
        # A silent remote fails its reply after this long, not after the default minute.
        "LLMHUB_REMOTE_TIMEOUT_SECONDS": "15",
        TEST_HUB_KEY_ENV: TEST_HUB_KEY,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, *, timeout: float, what: str, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} while waiting for {what}")
        if condition():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _log_file(name: str):
    return open(settings.DATA_DIR / f"{name}.log", "w")


def worker_start(env: dict[str, str], *, name: str, models: list[str]) -> subprocess.Popen:
    """A worker hosting ``models``; returns once it heart-beats for them."""
    from models_registry.selectors import model_live_workers

    command = [sys.executable, "-m", "celery", "-A", "llmhub", "worker", "--pool", "threads",
               "--concurrency", "4", "--hostname", f"{name}@%h", "--loglevel", "INFO"]
    process = subprocess.Popen(
        command, env=env | {"LLMHUB_WORKER_MODELS": ",".join(models)}, cwd=ROOT,
        stdout=_log_file(f"worker-{name}"), stderr=subprocess.STDOUT,
    )
    wait_for(lambda: all(any(w.startswith(f"{name}@") for w in model_live_workers(m))
                         for m in models),
             timeout=60, what=f"worker {name}", process=process)
    return process


def web_start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
               "llmhub.asgi:application"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=_log_file("web"),
                               stderr=subprocess.STDOUT)

    def accepts() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    wait_for(accepts, timeout=60, what="daphne", process=process)
    return process, f"http://127.0.0.1:{port}"


def node_worker_start(env: dict[str, str], *, name: str, concurrency: int = 2,
                      extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A worker that takes placements (no pinned models), as a GPU box starts one; returns
    once its node is registered and ready."""
    from models_registry.models import Node
    from models_registry.selectors import node_is_ready

    command = [sys.executable, "-m", "celery", "-A", "llmhub", "worker", "--pool", "threads",
               "--concurrency", str(concurrency), "--hostname", f"{name}@%h",
               "--loglevel", "INFO"]
    process = subprocess.Popen(
        command, env=env | {"LLMHUB_WORKER_MODELS": ""} | (extra_env or {}), cwd=ROOT,
        stdout=_log_file(f"worker-{name}"), stderr=subprocess.STDOUT,
    )

    def registered() -> bool:
        node = Node.objects.filter(name=node_name(name)).first()
        return node is not None and node_is_ready(node)

    wait_for(registered, timeout=60, what=f"node {name}", process=process)
    return process


def node_name(worker_name: str) -> str:
    """Celery's full worker name for ``--hostname <name>@%h``."""
    return f"{worker_name}@{socket.gethostname()}"


def process_kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)
