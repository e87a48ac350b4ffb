"""The hub under test: ``manage.py runhub`` in a subprocess on a fresh data directory.

The benchmark process configures Django on the same data directory, so it shares the hub's
SQLite file (users, sessions, conversations, the model row) and its embedded Redis.
"""
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY_LINE = "Admin login"
# Without these the hub runs embedded SQLite and Redis and lets llama.cpp pick its threads,
# which is what the in-process baseline does too.
ENV_DROPPED = ("REDIS_URL", "DATABASE_URL", "LLMHUB_LLAMA_THREADS", "LLMHUB_GPU_LAYERS")


def django_configure(data_dir: Path) -> None:
    """Point this process's Django at the hub's data directory, before the hub starts:
    the first process to read settings writes the secret key both then sign sessions with."""
    import django

    for name in ENV_DROPPED:
        os.environ.pop(name, None)
    os.environ["LLMHUB_DATA_DIR"] = str(data_dir)
    os.environ["DJANGO_SETTINGS_MODULE"] = "llmhub.settings"
    django.setup()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition: Callable[[], bool], *, what: str, deadline: float,
             process: subprocess.Popen) -> None:
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"the hub exited ({process.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def child_pids(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The command name may hold spaces and parentheses: fields start after the last ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                children.append(int(stat.parent.name))
    return children


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def send_signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # it may end on its own meanwhile
            os.kill(pid, signum)


class Hub:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_path = data_dir / "hub.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = os.environ | {"PYTHONUNBUFFERED": "1"}  # "Admin login" must reach the log now
        command = [sys.executable, "manage.py", "runhub", "--port", str(self.port)]
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                            stderr=subprocess.STDOUT)

    def wait_ready(self, *, timeout: float) -> None:
        """Until runhub supervises its children, daphne listens and a worker heart-beats."""
        from models_registry.demo import DEMO_MODEL_NAME
        from models_registry.selectors import model_live_workers

        deadline = time.monotonic() + timeout
        wait_for(lambda: READY_LINE in self.log_path.read_text(errors="replace"),
                 what=f'"{READY_LINE}"', deadline=deadline, process=self.process)
        wait_for(lambda: port_accepts(self.port), what=f"port {self.port}",
                 deadline=deadline, process=self.process)
        wait_for(lambda: bool(model_live_workers(DEMO_MODEL_NAME)), what="a worker heartbeat",
                 deadline=deadline, process=self.process)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None:
            return
        children = child_pids(self.process.pid)
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # runhub only cleans up after a SIGTERM once it supervises its children: one stopped
        # earlier (a failed start) leaves them, and its daemonized Redis, behind.
        self._end_leftovers(children)
        self._shutdown_leftover_redis()

    def _end_leftovers(self, pids: list[int]) -> None:
        send_signal(pids, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while any(map(pid_alive, pids)) and time.monotonic() < deadline:
            time.sleep(0.2)
        send_signal(pids, signal.SIGKILL)

    def _shutdown_leftover_redis(self) -> None:
        import redis

        socket_path = self.data_dir / "redis.sock"
        if not socket_path.exists():
            return
        with contextlib.suppress(redis.RedisError):
            redis.Redis(unix_socket_path=str(socket_path), socket_timeout=2).shutdown(nosave=True)


@contextlib.contextmanager
def hub_running(data_dir: Path, *, ready_timeout: float = 180) -> Iterator[Hub]:
    hub = Hub(data_dir, free_port())
    try:
        hub.start()
        hub.wait_ready(timeout=ready_timeout)
        yield hub
    except Exception:
        # The log lives in the data directory, which is deleted once the hub stops.
        print(f"--- last lines of {hub.log_path.name} ---\n{hub.log_tail()}", file=sys.stderr)
        raise
    finally:
        hub.stop()
