"""The embedded Redis: one owner per data directory, leftovers of a killed owner cleared."""
import os
import subprocess
import sys

import pytest
import redis
from django.core.exceptions import ImproperlyConfigured

from llmhub.embedded import embedded_redis_start


def test_it_serves_redis_on_its_socket_and_stops(tmp_path):
    server = embedded_redis_start(socket_path=tmp_path / "r.sock", data_dir=tmp_path)
    client = redis.Redis(unix_socket_path=str(tmp_path / "r.sock"))
    assert client.ping()
    server.shutdown(nosave=True)
    with pytest.raises(redis.ConnectionError):
        client.ping()


def test_a_second_owner_of_a_live_data_directory_is_refused(tmp_path):
    server = embedded_redis_start(socket_path=tmp_path / "r.sock", data_dir=tmp_path)
    try:
        with pytest.raises(ImproperlyConfigured, match=f"another hub \\(pid {os.getpid()}\\)"):
            embedded_redis_start(socket_path=tmp_path / "r.sock", data_dir=tmp_path)
        assert redis.Redis(unix_socket_path=str(tmp_path / "r.sock")).ping()
    finally:
        server.shutdown(nosave=True)


def test_the_redis_of_a_killed_owner_is_replaced(tmp_path):
    code = (
        "import os, sys; from pathlib import Path; from llmhub.embedded import "
        "embedded_redis_start as start; d = Path(sys.argv[1]); "
        "s = start(socket_path=d / 'r.sock', data_dir=d); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=60)
    leftover = redis.Redis(unix_socket_path=str(tmp_path / "r.sock"))
    leftover.set("left", "over")
    server = embedded_redis_start(socket_path=tmp_path / "r.sock", data_dir=tmp_path)
    try:
        assert leftover.get("left") is None
    finally:
        server.shutdown(nosave=True)
