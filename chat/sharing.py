"""Read-only sharing of a conversation by link: the owner makes one link at a time, which
any logged-in user holding it can read, until the owner revokes it.

The token is the only secret: a revoked or unknown one reads as missing, for the owner as
for anyone else, so a link is either working or gone."""
import secrets

from django.db import transaction
from django.utils import timezone

from chat.models import Conversation, ShareLink

TOKEN_BYTES = 24  # 32 URL-safe characters: far past guessing, well within the column


def share_link_active(*, conversation: Conversation) -> ShareLink | None:
    """The conversation's working link, if it has one."""
    return conversation.share_links.filter(revoked_at__isnull=True).first()


def share_link_create(*, conversation: Conversation) -> ShareLink:
    """The conversation's working link: the one it has, else a new one. The caller has
    checked that the user asking owns the conversation."""
    with transaction.atomic():
        # Locked so that two clicks at once do not leave two working links.
        Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
        link = share_link_active(conversation=conversation)
        if link is None:
            link = ShareLink.objects.create(conversation=conversation,
                                            token=secrets.token_urlsafe(TOKEN_BYTES))
    return link


def share_link_revoke(*, conversation: Conversation) -> int:
    """Revoke the conversation's working link; how many were revoked (0 or 1). A later
    share makes a new token: the old one never works again."""
    return conversation.share_links.filter(revoked_at__isnull=True).update(
        revoked_at=timezone.now())


def shared_conversation_get(*, token: str) -> Conversation | None:
    """The conversation a working link shows; None for a revoked or unknown token."""
    link = (ShareLink.objects.filter(token=token, revoked_at__isnull=True)
            .select_related("conversation__model", "conversation__owner").first())
    return link.conversation if link else None
