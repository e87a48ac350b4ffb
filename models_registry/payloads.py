"""What the cluster websocket sends; shared by the consumer, its tests and cluster.js."""
from typing import Literal, TypedDict

CLOSE_NOT_STAFF = 4403  # logged in, but only staff see the cluster


class ClusterEvent(TypedDict):
    """``models_registry.selectors.cluster_snapshot()`` with its type."""

    type: Literal["cluster"]
    nodes: list[dict]
    placements: list[dict]
