"""A websocket client for the chat consumer, as the browser page uses it."""
import json
import time

from django.test import Client
from websockets.sync.client import ClientConnection, connect


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def chat_connect(hub_url: str, conversation_id: int, user=None) -> ClientConnection:
    ws_url = hub_url.replace("http://", "ws://") + f"/ws/chat/{conversation_id}/"
    headers = {"Origin": hub_url}
    if user is not None:
        headers["Cookie"] = f"sessionid={session_cookie(user)}"
    return connect(ws_url, additional_headers=headers, open_timeout=10)


def send(ws: ClientConnection, payload: dict) -> None:
    ws.send(json.dumps(payload))


def receive(ws: ClientConnection, timeout: float = 60) -> dict:
    return json.loads(ws.recv(timeout=timeout))


def post_message(ws: ClientConnection, text: str) -> tuple[dict, dict]:
    """Send a message; return the stored user message and the queued reply."""
    send(ws, {"type": "send", "text": text})
    title = receive(ws)
    assert title["type"] == "conversation" and title["title"], title
    user_message, reply = receive(ws)["message"], receive(ws)["message"]
    return user_message, reply


def read_until_final(ws: ClientConnection, timeout: float = 120) -> tuple[list[dict], dict]:
    """Collect delta frames until the final frame; return (deltas, final)."""
    deltas: list[dict] = []
    deadline = time.monotonic() + timeout
    while True:
        event = receive(ws, timeout=max(0.1, deadline - time.monotonic()))
        if event["type"] == "delta":
            deltas.append(event)
        elif event["type"] == "final":
            return deltas, event
