"""The registry's admin pages in a real browser: the cluster page kept live by its websocket,
and a model card with its replicas and the Deploy form. Screenshots go to tests/artifacts/.

Real daphne, Redis and the session's Celery worker (node main@<host>) behind the pages.
"""
import time

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from playwright.sync_api import expect

from llmhub.redis import redis_client
from models_registry.models import Node, Placement
from models_registry.pull import pull_progress_key
from tests.chat_client import session_cookie
from tests.processes import wait_for

pytestmark = pytest.mark.browser
GB = 10**9


@pytest.fixture
def sam(transactional_db):
    """Sam runs the hub: staff, not superuser."""
    return User.objects.create_user("sam", password="sam-password-1", is_staff=True)


@pytest.fixture
def worker_node(worker, transactional_db) -> Node:
    wait_for(lambda: Node.objects.filter(name__startswith="main@").exists(), timeout=20,
             what="the worker's node row")
    return Node.objects.get(name__startswith="main@")


@pytest.fixture
def gpu_box(transactional_db) -> Node:
    """A second node, as a GPU worker elsewhere reports itself."""
    return Node.objects.create(
        name="gpu-box@lab", host="lab", cpu_count=16, ram_bytes=64 * GB,
        disk_free_bytes=500 * GB, task_slots=4, active_tasks=1,
        gpus=[{"name": "NVIDIA L4", "memory_total": 24 * GB, "memory_free": 20 * GB}],
        started_at=timezone.now(), last_seen=timezone.now())


@pytest.fixture
def pulling(demo_model, gpu_box):
    """A replica of the demo model half-way through its download."""
    placed = Placement.objects.create(model=demo_model, node=gpu_box, slots=2,
                                      memory_bytes=GB, state=Placement.State.PULLING)
    key = pull_progress_key(placed.pk)
    redis_client().hset(key, mapping={"done": 40_000_000, "total": 100_000_000,
                                      "rate": 5_000_000, "eta": 12.0, "updated": time.time()})
    yield placed
    redis_client().delete(key)


def logged_in(page, hub_url: str, user) -> None:
    page.context.add_cookies([{"name": "sessionid", "value": session_cookie(user),
                               "url": hub_url}])


def live(page) -> None:
    """The page's socket has delivered the cluster at least once."""
    expect(page.locator("#live-status")).to_have_text("Live: changes show as they happen.")


def test_the_cluster_page_shows_nodes_and_replicas_live(
    page, hub_url, sam, worker_node, pulling, artifacts
):
    logged_in(page, hub_url, sam)
    page.goto("/models/cluster/")
    live(page)
    nodes = page.locator("#nodes")
    expect(nodes.get_by_role("rowheader", name=worker_node.name)).to_be_visible()
    expect(nodes).to_contain_text("NVIDIA L4: 20.0 GB free of 24.0 GB")
    replicas = page.locator("#replicas")
    expect(replicas.locator("progress")).to_be_visible()
    expect(replicas).to_contain_text("40.0 MB of 100.0 MB · 5.0 MB/s · 12 s left")

    Node.objects.create(name="late@shed", host="shed", started_at=timezone.now(),
                        last_seen=timezone.now())
    expect(nodes.get_by_role("rowheader", name="late@shed")).to_be_visible(timeout=10_000)
    page.screenshot(path=str(artifacts / "cluster.png"), full_page=True)


def test_a_model_card_shows_staff_its_replicas_and_the_deploy_form(
    page, hub_url, sam, demo_model, pulling, artifacts
):
    logged_in(page, hub_url, sam)
    page.goto(f"/models/{demo_model.pk}/")
    live(page)
    deploy = page.get_by_role("form", name="Deploy")
    expect(deploy.get_by_label("Replicas")).to_have_value("1")
    expect(deploy.get_by_label("Slots")).to_have_value(str(demo_model.slots))
    expect(deploy.get_by_role("button", name="Deploy", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Undeploy")).to_be_visible()
    expect(page.locator("#replicas")).to_contain_text("gpu-box@lab")

    Placement.objects.filter(pk=pulling.pk).update(state=Placement.State.READY)
    expect(page.locator(f'#replicas tr[data-id="{pulling.pk}"]')).to_contain_text("Serving")
    page.screenshot(path=str(artifacts / "model-card-admin.png"), full_page=True)
