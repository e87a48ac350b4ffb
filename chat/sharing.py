"""Read-only sharing of a conversation by link (being written)."""


def share_link_active(*, conversation):
    return None
