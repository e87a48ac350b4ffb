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


def test_the_running_worker_is_pinned_and_reports_its_files_and_load(worker, transactional_db):
    wait_for(lambda: Node.objects.filter(name__startswith="main@").exists(), timeout=15,
             what="the worker's node row")
    node = Node.objects.get(name__startswith="main@")
    assert node.accepts_placements is False  # LLMHUB_WORKER_MODELS pins it
    assert node.task_slots == 4 and node.active_tasks == 0
    assert node.gpus == []  # no NVIDIA driver on this machine


class _FakeNvml:
    """Stands in for nvidia-ml-py's pynvml, because this machine has no GPU: two GPUs."""

    class Memory:
        def __init__(self, total: int, free: int) -> None:
            self.total, self.free = total, free

    def __init__(self) -> None:
        self.initialised = 0

    def nvmlInit(self) -> None:
        self.initialised += 1

    def nvmlShutdown(self) -> None:
        self.initialised -= 1

    def nvmlDeviceGetCount(self) -> int:
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        return index

    def nvmlDeviceGetMemoryInfo(self, handle: int):
        return self.Memory(total=(handle + 1) * 24 * 2**30, free=(handle + 1) * 20 * 2**30)

    def nvmlDeviceGetName(self, handle: int):
        return b"NVIDIA L4" if handle == 0 else "NVIDIA H100"


def test_gpus_are_read_with_nvidia_ml_py_where_a_driver_is_present(monkeypatch):
    import sys

    from models_registry.worker import gpus_read

    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert gpus_read() == [
        {"index": 0, "name": "NVIDIA L4", "memory_total": 24 * 2**30,
         "memory_free": 20 * 2**30},
        {"index": 1, "name": "NVIDIA H100", "memory_total": 48 * 2**30,
         "memory_free": 40 * 2**30},
    ]
    assert fake.initialised == 0  # shut down after reading


def test_without_a_driver_a_node_has_no_gpus():
    from models_registry.worker import gpus_read

    assert gpus_read() == []  # the real nvidia-ml-py, on a machine with no NVIDIA driver
