"""A reply whose worker dies ends as failed, never stays streaming (DESIGN.md invariant 2)."""
import signal
import time

from chat.models import Message
from chat.services import conversation_create
from models_registry.demo import demo_model_path
from models_registry.models import Node
from models_registry.selectors import node_is_ready
from models_registry.services import model_register_local_file
from tests.chat_client import chat_connect, post_message, read_until_final, receive
from tests.processes import worker_start


def test_a_reply_whose_worker_is_killed_ends_as_failed(hub_url, processes_env, alice):
    doomed_model = model_register_local_file(name="doomed:135m", path=demo_model_path())
    doomed_model.max_tokens = 5000
    doomed_model.save()
    doomed = worker_start(processes_env, name="doomed", models=[doomed_model.name])
    conversation = conversation_create(owner=alice, model=doomed_model)
    try:
        with chat_connect(hub_url, conversation.pk, alice) as ws:
            _, reply = post_message(ws, "Tell me a very long story.")
            while receive(ws)["type"] != "delta":
                pass
            doomed.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            _, final = read_until_final(ws, timeout=60)
    finally:
        doomed.kill()
        doomed.wait()

    assert time.monotonic() - killed_at < 30
    assert final["status"] == "failed"
    assert final["error"].startswith("worker doomed@") and "stopped" in final["error"]
    stored = Message.objects.get(pk=reply["id"])
    assert stored.status == Message.Status.FAILED
    nodes = {node.name.split("@")[0]: node_is_ready(node) for node in Node.objects.all()}
    assert nodes == {"doomed": False, "main": True}
