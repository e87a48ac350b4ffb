"""Placement: memory first, nodes that already host the model next, then packing."""
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from llmhub.services import demo_model_register
from models_registry.models import Node, Placement
from models_registry.placement import (
    MARGIN_BYTES,
    model_deploy,
    model_undeploy,
    node_free_memory,
    placement_memory_needed,
)

pytestmark = pytest.mark.django_db
GB = 10**9


@pytest.fixture
def demo():
    return demo_model_register()


def node(name: str, ram_gb: float, *, hosts=(), ready=True, gpus=()) -> Node:
    seen = timezone.now() - timedelta(seconds=0 if ready else 60)
    return Node.objects.create(name=name, host=name, ram_bytes=int(ram_gb * GB),
                               model_names=list(hosts), gpus=list(gpus),
                               started_at=seen, last_seen=seen)


def test_memory_needed_is_weights_plus_kv_cache_for_the_slots_plus_a_margin(demo):
    kv_per_token = 23_040  # the demo model's header: 2 x 30 layers x 3 KV heads x 64 x 2 B
    assert placement_memory_needed(model=demo, slots=2) == (
        demo.file_size + kv_per_token * demo.context_length * 2 + MARGIN_BYTES)


def test_two_replicas_use_two_nodes(demo):
    node("a", 8)
    node("b", 8)
    placements = model_deploy(model=demo, replicas=2, slots=4)
    assert sorted(p.node.name for p in placements) == ["a", "b"]


def test_a_node_that_already_hosts_the_model_comes_first_then_the_fullest_that_fits(demo):
    node("roomy", 64)
    node("snug", 2)
    node("hosting", 64, hosts=[demo.name])
    assert model_deploy(model=demo, replicas=1, slots=1)[0].node.name == "hosting"
    assert model_deploy(model=demo, replicas=1, slots=1)[0].node.name == "snug"


def test_a_refusal_says_what_is_needed_and_what_the_best_node_has(demo):
    node("small", 0.5)
    with pytest.raises(ValidationError) as refused:
        model_deploy(model=demo, replicas=1, slots=4)
    assert refused.value.messages == [
        "smollm2:135m-instruct-q4_1 needs 744.3 MB per replica; 0 of 1 replicas fit "
        "(best node has 500.0 MB free)"]
    assert not Placement.objects.exists()


def test_a_node_that_stopped_beating_gets_nothing(demo):
    node("gone", 64, ready=False)
    with pytest.raises(ValidationError, match="no ready node"):
        model_deploy(model=demo, replicas=1, slots=1)


def test_placed_replicas_claim_memory_and_undeploy_frees_it(demo):
    box = node("box", 4)
    model_deploy(model=demo, replicas=1, slots=4)
    claimed = placement_memory_needed(model=demo, slots=4)
    assert node_free_memory(box) == 4 * GB - claimed
    assert model_undeploy(model=demo) == 1
    assert node_free_memory(box) == 4 * GB


def test_a_failed_replica_keeps_its_row_but_not_its_memory(demo):
    box = node("box", 4)
    [placement] = model_deploy(model=demo, replicas=1, slots=4)
    Placement.objects.filter(pk=placement.pk).update(state=Placement.State.FAILED,
                                                     error="the load ran out of memory")
    assert node_free_memory(box) == 4 * GB
    # Another model may take the memory; the failed one stays listed until undeployed.
    other = demo_model_register()
    other.pk, other.name = None, "other"
    other.save()
    assert model_deploy(model=other, replicas=1, slots=4)[0].node == box
    assert Placement.objects.filter(node=box).count() == 2


def test_gpu_memory_counts_where_a_node_has_gpus(demo):
    gpu_box = node("gpu", 512, gpus=[{"name": "H100", "memory_total": int(0.5 * GB)}])
    assert node_free_memory(gpu_box) == int(0.5 * GB)
    with pytest.raises(ValidationError, match="0 of 1 replicas fit"):
        model_deploy(model=demo, replicas=1, slots=4)


@pytest.mark.parametrize("replicas,slots", [(0, 1), (1, 0)])
def test_zero_replicas_or_slots_are_refused(demo, replicas, slots):
    node("a", 8)
    with pytest.raises(ValidationError, match="at least 1"):
        model_deploy(model=demo, replicas=replicas, slots=slots)
