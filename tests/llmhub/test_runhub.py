"""`make run`'s launcher on a fresh data directory: the embedded path, end to end.

No DATABASE_URL, no REDIS_URL: SQLite and the embedded Redis, as on a newcomer's laptop,
whichever servers the rest of the suite uses.
"""
import os
import re
import signal
import subprocess
import sys

import httpx
import pytest
from django.conf import settings

from tests.chat_client import post_message, read_until_final
from tests.processes import free_port, wait_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def launched(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"LLMHUB_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "llmhub.settings"}
    log = tmp_path / "runhub.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runhub", "--port", str(port), "--concurrency", "2"],
        cwd=settings.BASE_DIR, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    yield process, port, log, tmp_path
    if process.poll() is None:
        process.kill()
        process.wait()


def test_it_starts_everything_and_answers_a_chat(launched):
    process, port, log, data_dir = launched
    wait_for(lambda: "celery@" in log.read_text() and " ready." in log.read_text(),
             timeout=120, what="the worker", process=process)
    output = log.read_text()
    password = re.search(r"Admin login: admin / (\S+)", output).group(1)
    assert "Demo model: smollm2:135m-instruct-q4_1" in output
    assert (data_dir / "redis.sock").exists() and (data_dir / "db.sqlite3").exists()

    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base) as web:
        web.get("/accounts/login/")
        web.post("/accounts/login/", data={"username": "admin", "password": password,
                                           "csrfmiddlewaretoken": web.cookies["csrftoken"]})
        page = web.get("/chat/")
        assert page.status_code == 200 and "smollm2:135m-instruct-q4_1" in page.text
        model_id = re.search(r'<option value="(\d+)"', page.text).group(1)
        created = web.post("/chat/new/", data={"model": model_id,
                                               "csrfmiddlewaretoken": web.cookies["csrftoken"]})
        conversation_id = re.search(r"/chat/c/(\d+)/", created.headers["location"]).group(1)
        session = web.cookies["sessionid"]

    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}/ws/chat/{conversation_id}/",
                 additional_headers={"Cookie": f"sessionid={session}", "Origin": base}) as ws:
        user_message, _ = post_message(ws, "Say hello in French.")
        assert user_message["role"] == "user"
        deltas, final = read_until_final(ws)
    assert final["status"] == "done" and final["text"]
    assert "".join(d["text"] for d in deltas) == final["text"]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert not (data_dir / "redis.sock").exists()
