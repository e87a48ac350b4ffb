"""Workers register their box and heart-beat; three missed beats and a node is not ready."""
import os
import time
from datetime import timedelta

from django.utils import timezone

from models_registry.demo import DEMO_MODEL_NAME
from models_registry.models import Node
from models_registry.selectors import node_is_ready
from tests.processes import wait_for


def test_the_running_worker_registers_its_box(worker, transactional_db):
    wait_for(lambda: Node.objects.filter(name__startswith="main@").exists(), timeout=15,
             what="the worker's node row")
    node = Node.objects.get(name__startswith="main@")
    assert node.cpu_count == os.cpu_count()
    assert node.ram_bytes > 1e9 and node.disk_free_bytes > 0
    assert node.model_names == [DEMO_MODEL_NAME]
    assert node_is_ready(node)


def test_a_node_is_ready_again_when_it_beats_again(worker, transactional_db):
    wait_for(lambda: Node.objects.filter(name__startswith="main@").exists(), timeout=15,
             what="the worker's node row")
    Node.objects.update(last_seen=timezone.now() - timedelta(seconds=16))
    assert not node_is_ready(Node.objects.get(name__startswith="main@"))
    seen_before = time.time()
    wait_for(lambda: Node.objects.get(name__startswith="main@").last_seen.timestamp()
             > seen_before, timeout=15, what="the next heartbeat")
    assert node_is_ready(Node.objects.get(name__startswith="main@"))
