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


def message_list(*, conversation: Conversation) -> QuerySet[Message]:
    return conversation.messages.all()


def reply_get(*, conversation: Conversation, reply_id: int) -> Message | None:
    return conversation.messages.filter(pk=reply_id, role=Message.Role.ASSISTANT).first()


def generation_history(*, reply: Message) -> list[dict[str, str]]:
    """The chat messages a reply answers: everything before it that a model should see."""
    earlier = reply.conversation.messages.filter(id__lt=reply.pk).exclude(
        role=Message.Role.ASSISTANT, status__in=[Message.Status.FAILED, *Message.ACTIVE]
    )
    return [{"role": m.role, "content": m.content} for m in earlier if m.content]
