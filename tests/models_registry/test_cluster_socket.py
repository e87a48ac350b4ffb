"""The cluster websocket end to end: real daphne, Redis and the session's Celery worker,
which registers itself as node main@<host>. Staff get the cluster at once and every change
after; alice, who is not staff, and anonymous visitors are turned away."""
import time

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from chat.payloads import CLOSE_NOT_LOGGED_IN
from models_registry.models import Node, Placement
from models_registry.payloads import CLOSE_NOT_STAFF
from tests.chat_client import receive, session_cookie
from tests.processes import wait_for


@pytest.fixture
def sam(transactional_db):
    """Sam runs the hub: staff, not superuser."""
    return User.objects.create_user("sam", password="sam-password-1", is_staff=True)


@pytest.fixture
def worker_node(worker, transactional_db) -> Node:
    wait_for(lambda: Node.objects.filter(name__startswith="main@").exists(), timeout=20,
             what="the worker's node row")
    return Node.objects.get(name__startswith="main@")


def cluster_connect(hub_url: str, user=None) -> ClientConnection:
    headers = {"Origin": hub_url}
    if user is not None:
        headers["Cookie"] = f"sessionid={session_cookie(user)}"
    return connect(hub_url.replace("http://", "ws://") + "/ws/cluster/",
                   additional_headers=headers, open_timeout=10)


def cluster_until(ws: ClientConnection, condition, timeout: float) -> dict:
    """The first cluster message that meets ``condition``; heartbeats send others before it."""
    deadline = time.monotonic() + timeout
    while True:
        message = receive(ws, timeout=max(0.1, deadline - time.monotonic()))
        if condition(message):
            return message


def test_staff_get_the_cluster_at_once_with_the_workers_node(hub_url, sam, worker_node):
    with cluster_connect(hub_url, sam) as ws:
        first = receive(ws, timeout=10)
    assert first["type"] == "cluster"
    node = next(n for n in first["nodes"] if n["name"] == worker_node.name)
    assert node["ready"] and node["host"] == worker_node.host and node["task_slots"] > 0
    assert node["models"] == worker_node.model_names
    assert first["placements"] == []


def test_a_new_replica_reaches_staff_within_seconds(hub_url, sam, demo_model, worker_node):
    with cluster_connect(hub_url, sam) as ws:
        receive(ws, timeout=10)
        placed = Placement.objects.create(model=demo_model, node=worker_node, slots=1,
                                          memory_bytes=10**9, state=Placement.State.FAILED,
                                          error="disk full")
        started = time.monotonic()
        update = cluster_until(ws, lambda m: m["placements"], timeout=5)
        elapsed = time.monotonic() - started
    assert update["placements"] == [{
        "id": placed.pk, "model": demo_model.name, "model_id": demo_model.pk,
        "node": worker_node.name, "slots": 1, "memory_bytes": 10**9, "state": "failed",
        "error": "disk full", "progress": None}]
    assert elapsed < 3


def test_a_node_that_stops_beating_shows_not_ready(hub_url, sam, worker_node):
    Node.objects.create(name="gone@attic", host="attic", started_at=timezone.now(),
                        last_seen=timezone.now())
    with cluster_connect(hub_url, sam) as ws:
        receive(ws, timeout=10)
        Node.objects.filter(name="gone@attic").update(last_seen=timezone.now().replace(year=2020))
        update = cluster_until(
            ws, lambda m: any(n["name"] == "gone@attic" and not n["ready"] for n in m["nodes"]),
            timeout=5)
    assert any(n["name"] == worker_node.name and n["ready"] for n in update["nodes"])


def test_alice_who_is_not_staff_is_closed_with_not_staff(hub_url, alice):
    with cluster_connect(hub_url, alice) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == CLOSE_NOT_STAFF == 4403


def test_an_anonymous_visitor_is_closed_with_not_logged_in(hub_url, transactional_db):
    with cluster_connect(hub_url) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == CLOSE_NOT_LOGGED_IN == 4401
