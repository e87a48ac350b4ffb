"""Reads for conversations; every read is scoped to the user asking."""
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet

from chat.models import Conversation, Message


def conversation_list(*, user: AbstractBaseUser) -> QuerySet[Conversation]:
    return Conversation.objects.filter(
        owner=user, origin=Conversation.Origin.CHAT).select_related("model")


def conversation_search(*, user: AbstractBaseUser, query: str) -> QuerySet[Conversation]:
    """The user's chat conversations whose title or any message contains ``query``, ignoring
    case (SQLite folds ASCII letters only). Each is listed once, newest activity first."""
    # EXISTS instead of a join and DISTINCT: no duplicate rows to fold away, and with the
    # caller's LIMIT the database stops at the first conversations that match.
    in_messages = Message.objects.filter(conversation=OuterRef("pk"), content__icontains=query)
    return conversation_list(user=user).filter(Q(title__icontains=query) | Exists(in_messages))


def conversation_get(*, user: AbstractBaseUser, conversation_id: int) -> Conversation | None:
    """The user's conversation, or None for an unknown one and for anyone else's."""
    return conversation_list(user=user).filter(pk=conversation_id).first()


def message_list(*, conversation: Conversation) -> list[Message]:
    """The branch on show, first message first. Each message carries ``versions``: the
    ids of its siblings (itself included, oldest first), the versions a reader can switch
    between; one query for the whole conversation, the token log stays unread."""
    messages = list(conversation.messages.defer("tokens"))
    by_id = {message.pk: message for message in messages}
    siblings: dict[int | None, list[int]] = {}
    for message in messages:
        siblings.setdefault(message.parent_id, []).append(message.pk)
    branch = []
    message = by_id.get(conversation.current_id) or (messages[-1] if messages else None)
    while message is not None:
        message.versions = siblings[message.parent_id]
        branch.append(message)
        message = by_id.get(message.parent_id)
    return branch[::-1]


def message_list_all(*, conversation: Conversation) -> QuerySet[Message]:
    """Every message of the conversation, every version of every turn."""
    return conversation.messages.defer("tokens")


def branch_leaf(*, message: Message) -> Message:
    """The message a branch switch shows last: from ``message`` down, the newest child
    each time."""
    children: dict[int | None, list[Message]] = {}
    for other in message.conversation.messages.filter(id__gt=message.pk).defer("tokens"):
        children.setdefault(other.parent_id, []).append(other)
    while children.get(message.pk):
        message = children[message.pk][-1]
    return message


def conversation_has_active_reply(*, conversation: Conversation) -> bool:
    return conversation.messages.filter(status__in=Message.ACTIVE).exists()


def message_get(*, conversation: Conversation, message_id: int) -> Message | None:
    return conversation.messages.filter(pk=message_id).defer("tokens").first()


def reply_get(*, conversation: Conversation, reply_id: int) -> Message | None:
    return conversation.messages.filter(pk=reply_id, role=Message.Role.ASSISTANT).first()


def reply_tokens(*, conversation: Conversation, reply_id: int) -> list | None:
    """A reply's stored tokens and alternatives; None when it has none (or is not there)."""
    return (conversation.messages.filter(pk=reply_id, role=Message.Role.ASSISTANT)
            .values_list("tokens", flat=True).first())


def generation_history(*, reply: Message) -> list[dict[str, str]]:
    """The chat messages a reply answers: its branch up to it, less what a model should
    not see (failed replies, replies still being written, empty ones)."""
    earlier = {m.pk: m for m in reply.conversation.messages.filter(id__lt=reply.pk)
               .defer("tokens", "params")}
    branch = []
    message = earlier.get(reply.parent_id)
    while message is not None:
        branch.append(message)
        message = earlier.get(message.parent_id)
    skipped = {Message.Status.FAILED, *Message.ACTIVE}
    return [{"role": m.role, "content": m.content} for m in reversed(branch)
            if m.content and not (m.role == Message.Role.ASSISTANT and m.status in skipped)]
