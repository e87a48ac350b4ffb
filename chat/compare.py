"""Compare mode: one prompt sent to 2 or 3 models at once, each reply in a conversation of
its own (which the user can go on with alone), shown side by side."""
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from chat import services
from chat.models import Comparison, Conversation, Message
from models_registry.badges import Badge, model_badges_for
from models_registry.models import Model
from models_registry.placement import MARGIN_BYTES, placement_memory_needed

COMPARE_MIN_MODELS = 2
COMPARE_MAX_MODELS = 3


@dataclass(frozen=True)
class MemoryNeed:
    """What placement reserves for a model: weights + KV cache + a margin = total."""

    weights: int
    kv_cache: int
    margin: int
    total: int


@dataclass(frozen=True)
class CompareColumn:
    conversation: Conversation
    badges: list[Badge]
    reply: Message | None
    memory: MemoryNeed | None


def comparison_create(*, owner: AbstractBaseUser, models: list[Model],
                      prompt: str) -> Comparison:
    """Send ``prompt`` to each of ``models``: a conversation per model, all made in one
    transaction, so a model or a prompt that is refused leaves nothing behind. The replies
    are queued once it commits."""
    models_check(models=models)
    with transaction.atomic():
        comparison = Comparison.objects.create(owner=owner, prompt=prompt.strip())
        for model in models:
            # conversation_create and message_post check access, the prompt and the quota.
            conversation = services.conversation_create(owner=owner, model=model)
            conversation.comparison = comparison
            conversation.save(update_fields=["comparison"])
            services.message_post(conversation=conversation, text=prompt)
    return comparison


def models_check(*, models: list[Model]) -> None:
    """2 or 3 different models; ValidationError that says what is wrong otherwise."""
    if not COMPARE_MIN_MODELS <= len(models) <= COMPARE_MAX_MODELS:
        raise ValidationError(_("Pick 2 or 3 models to compare."), code="count")
    if len({model.pk for model in models}) != len(models):
        raise ValidationError(_("Pick each model only once."), code="duplicate")


def comparison_list(*, user: AbstractBaseUser) -> QuerySet[Comparison]:
    return Comparison.objects.filter(owner=user).prefetch_related("conversations__model")


def comparison_get(*, user: AbstractBaseUser, comparison_id: int) -> Comparison | None:
    """The user's comparison, or None for an unknown one and for anyone else's."""
    return Comparison.objects.filter(owner=user, pk=comparison_id).first()


def comparison_columns(*, comparison: Comparison) -> list[CompareColumn]:
    """One column per model, in the order they were picked."""
    conversations = comparison.conversations.select_related("model").order_by("pk")
    return [CompareColumn(conversation=conversation,
                          badges=model_badges_for(conversation.model),
                          reply=compared_reply(conversation=conversation),
                          memory=model_memory_need(model=conversation.model))
            for conversation in conversations]


def compared_reply(*, conversation: Conversation) -> Message | None:
    """The reply to the compared prompt: the conversation's first, whatever the user went
    on to say in it since."""
    return (conversation.messages.filter(role=Message.Role.ASSISTANT).defer("tokens")
            .order_by("pk").first())


def model_memory_need(*, model: Model) -> MemoryNeed | None:
    """The model's memory as placement counts it, with the slots its workers give it;
    None for a cloud model (not this hub's memory) or one whose header is unread."""
    if model.backend != Model.Backend.LLAMACPP:
        return None
    try:
        total = placement_memory_needed(model=model, slots=model.slots)
    except ValidationError:
        return None
    # Split from placement's own total rather than recomputed, so the two never disagree.
    return MemoryNeed(weights=model.file_size, kv_cache=total - model.file_size - MARGIN_BYTES,
                      margin=MARGIN_BYTES, total=total)
