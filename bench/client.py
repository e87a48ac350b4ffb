"""The hub seen from a websocket client, as the chat page sees it; needs Django set up."""
import dataclasses
import json
import secrets
import time

from websockets.sync.client import connect

from bench.inprocess import decode_tokens_per_second


@dataclasses.dataclass(frozen=True)
class HubRun:
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_second: float | None
    text: str
    server_ttft_ms: float | None
    server_tokens_per_second: float | None


@dataclasses.dataclass(frozen=True)
class HubLogin:
    port: int
    user: object
    session_id: str


def demo_model_configure(*, max_tokens: int):
    """Greedy and ``max_tokens`` long: the worker reads these from the row for every task."""
    from models_registry.demo import DEMO_MODEL_NAME
    from models_registry.models import Model

    Model.objects.filter(name=DEMO_MODEL_NAME).update(temperature=0.0, max_tokens=max_tokens)
    return Model.objects.get(name=DEMO_MODEL_NAME)


def hub_login(port: int) -> HubLogin:
    from django.contrib.auth.models import User
    from django.test import Client

    user = User.objects.create_user("bench", password=secrets.token_urlsafe(16))
    client = Client()
    client.force_login(user)
    return HubLogin(port=port, user=user, session_id=client.cookies["sessionid"].value)


def conversation_new(login: HubLogin, model) -> int:
    # A fresh conversation per run keeps the prompt (its history) the same every time.
    from chat.services import conversation_create

    return conversation_create(owner=login.user, model=model, title="bench").pk


def hub_run(login: HubLogin, model, prompt: str, *, timeout: float = 300) -> HubRun:
    conversation_id = conversation_new(login, model)
    origin = f"http://127.0.0.1:{login.port}"
    headers = {"Cookie": f"sessionid={login.session_id}", "Origin": origin}
    url = f"ws://127.0.0.1:{login.port}/ws/chat/{conversation_id}/"
    with connect(url, additional_headers=headers, open_timeout=10) as ws:
        sent_at = time.perf_counter()
        ws.send(json.dumps({"type": "send", "text": prompt}))
        first_delta_at, final, final_at = read_reply(ws, deadline=sent_at + timeout)
    if final["status"] != "done":
        raise RuntimeError(f"the hub's reply ended {final['status']}: {final['error']}")
    count = final["completion_tokens"]
    return HubRun(
        prompt_tokens=final["prompt_tokens"],
        completion_tokens=count,
        ttft_ms=(first_delta_at - sent_at) * 1000 if first_delta_at else float("nan"),
        tokens_per_second=decode_tokens_per_second(count, first_delta_at, final_at),
        text=final["text"],
        server_ttft_ms=final["ttft_ms"],
        server_tokens_per_second=final["tokens_per_second"],
    )


def read_reply(ws, *, deadline: float) -> tuple[float | None, dict, float]:
    """Read events until the final frame; return when the first delta and the final came."""
    first_delta_at = None
    while True:
        raw = ws.recv(timeout=max(0.1, deadline - time.perf_counter()))
        # Stamped before parsing: the client's clock is what this side measures.
        received_at = time.perf_counter()
        event = json.loads(raw)
        if event["type"] == "error":
            raise RuntimeError(f"the hub answered an error: {event['error']}")
        if event["type"] == "delta" and first_delta_at is None:
            first_delta_at = received_at
        if event["type"] == "final":
            return first_delta_at, event, received_at
