"""Per-user daily token quotas (stub: being written)."""


def quota_check(*, user) -> None:
    """Raise QuotaExceeded (a ValidationError) when the user has spent today's tokens."""
    return None
