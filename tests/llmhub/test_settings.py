"""Configuration comes from the environment and fails loudly at start on a bad value."""
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from llmhub.env import env_bool, env_int, env_list
from llmhub.settings import _celery_broker_url


def start_django(**env: str) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); print('started')"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=settings.BASE_DIR, timeout=60,
                          env=os.environ | {"DJANGO_SETTINGS_MODULE": "llmhub.settings"} | env)


@pytest.mark.parametrize("name,value", [
    ("LLMHUB_STREAM_FLUSH_MS", "fast"),
    ("LLMHUB_STREAM_FLUSH_MS", "0"),
    ("DEBUG", "maybe"),
    ("DATABASE_URL", "not-a-url"),
])
def test_a_bad_value_stops_the_start_with_its_name(name, value):
    result = start_django(**{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_good_values_start(tmp_path):
    result = start_django(LLMHUB_DATA_DIR=str(tmp_path), DEBUG="yes",
                          LLMHUB_STREAM_FLUSH_MS="50")
    assert result.stdout.strip() == "started", result.stderr


def test_env_helpers(monkeypatch):
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_BOOL", "off")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_int("X_INT", 1) == 12 and env_int("X_MISSING", 3) == 3
    assert env_bool("X_BOOL", True) is False
    assert env_list("X_LIST", []) == ["a", "b", "c"]
    monkeypatch.setenv("X_INT", "-1")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be at least 0"):
        env_int("X_INT", 1)


def test_a_unix_socket_redis_is_spelled_for_celery():
    assert _celery_broker_url("unix:///d/redis.sock") == "redis+socket:///d/redis.sock"
    assert _celery_broker_url("redis://h:6379/2") == "redis://h:6379/2"
