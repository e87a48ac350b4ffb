"""What the websocket sends and receives; shared by the consumer and its tests."""
from typing import Literal, TypedDict

from chat.models import Message

CLOSE_NOT_LOGGED_IN = 4401
CLOSE_NOT_FOUND = 4404  # unknown conversation and someone else's look the same


class MessagePayload(TypedDict):
    id: int
    parent_id: int | None
    versions: list[int]  # the ids of this turn's versions, itself included, oldest first
    role: str
    content: str
    status: str
    error: str
    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_ms: float | None
    tokens_per_second: float | None


class MessageEvent(TypedDict):
    type: Literal["message"]
    message: MessagePayload


class ConversationEvent(TypedDict):
    type: Literal["conversation"]
    title: str


class BranchEvent(TypedDict):
    """The whole branch on show, after a regenerate, an edit or a switch of version."""

    type: Literal["branch"]
    messages: list[MessagePayload]


class ErrorEvent(TypedDict):
    type: Literal["error"]
    error: str


def message_payload(message: Message) -> MessagePayload:
    return MessagePayload(
        id=message.pk,
        parent_id=message.parent_id,
        versions=getattr(message, "versions", None) or [message.pk],
        role=message.role,
        content=message.content,
        status=message.status,
        error=message.error,
        prompt_tokens=message.prompt_tokens,
        completion_tokens=message.completion_tokens,
        ttft_ms=message.ttft_ms,
        tokens_per_second=message.tokens_per_second,
    )
