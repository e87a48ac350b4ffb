"""Writes for conversations and messages; the page, the websocket and the APIs call these."""
import time

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from chat import selectors
from chat.models import Conversation, Message
from inference.streams import FinalFrame, cancel_key, stream_final_append
from llmhub.redis import redis_client
from models_registry.models import REMOTE_QUEUE, Model, model_queue_name
from models_registry.selectors import (
    model_live_workers,
    model_user_may_use,
    model_workers_name,
    worker_is_alive,
)

MAX_MESSAGE_CHARS = 100_000
TITLE_MAX_CHARS = Conversation._meta.get_field("title").max_length


def conversation_create(*, owner: AbstractBaseUser, model: Model, title: str = "") -> Conversation:
    _model_check_access(owner, model)
    if not model.enabled:
        raise ValidationError(_("%(model)s is disabled") % {"model": model.name})
    return Conversation.objects.create(owner=owner, model=model, title=title[:200])


def conversation_rename(*, conversation: Conversation, title: str) -> Conversation:
    title = title.strip()
    if not title:
        raise ValidationError(_("The title is empty."))
    if len(title) > TITLE_MAX_CHARS:
        raise ValidationError(_("The title is longer than %(limit)s characters.")
                              % {"limit": TITLE_MAX_CHARS})
    if "\x00" in title:
        raise ValidationError(_("The title contains a NUL character."))
    conversation.title = title
    # Not updated_at: a new name is not new activity, so the list keeps its order.
    conversation.save(update_fields=["title"])
    return conversation


def conversation_settings_update(*, conversation: Conversation, system_prompt: str,
                                 settings: dict) -> Conversation:
    """Set the conversation's system prompt and the settings it does not take from its
    model (``settings`` holds only those; the form has checked their ranges). They apply
    from the next reply on."""
    if "\x00" in system_prompt:
        raise ValidationError(_("The system prompt contains a NUL character."))
    conversation.system_prompt = system_prompt
    conversation.settings = settings
    conversation.save(update_fields=["system_prompt", "settings"])
    return conversation


def conversation_delete(*, conversation: Conversation) -> None:
    """Delete a conversation with its messages. A reply still queued or streaming is
    cancelled first, so its worker stops; once the rows are gone its stream is closed, so a
    page still following it stops waiting (its reaper check would find no reply)."""
    active = list(conversation.messages.filter(status__in=Message.ACTIVE))
    for reply in active:
        generation_cancel(reply=reply)
    with transaction.atomic():
        conversation.delete()
        transaction.on_commit(lambda: _streams_close_deleted(active))


def _streams_close_deleted(replies: list[Message]) -> None:
    client = redis_client()
    error = _("the conversation was deleted")
    for reply in replies:
        final = FinalFrame(
            type="final", seq=0, status="cancelled", text="", error=error,
            finish_reason="cancelled", prompt_tokens=None, completion_tokens=None, ttft_ms=None,
            tokens_per_second=None,
        )
        stream_final_append(client, reply.pk, final, ttl_seconds=settings.STREAM_TTL_SECONDS)


def _model_check_access(user: AbstractBaseUser, model: Model) -> None:
    # Checked before "disabled", so a model outside the user's groups tells them nothing.
    if not model_user_may_use(user=user, model=model):
        raise ValidationError(_("you may not use %(model)s") % {"model": model.name})


def message_post(*, conversation: Conversation, text: str) -> tuple[Message, Message]:
    """Store the user's message after the branch on show, and a queued reply to it; the
    generation is queued on commit."""
    text = _message_text_clean(text)
    _turn_check(conversation, while_writing=True)
    with transaction.atomic():
        leaf = _branch_leaf_locked(conversation)
        return _turn_start(conversation, parent=leaf, text=text)


def message_edit(*, conversation: Conversation, message: Message,
                 text: str) -> tuple[Message, Message]:
    """Edit-and-resend: a new version of a user's message, beside the old one (same
    parent), with a queued reply; the old version and what followed it stay, one switch
    away."""
    if message.role != Message.Role.USER:
        raise ValidationError(_("Only your own messages can be edited."))
    text = _message_text_clean(text)
    _turn_check(conversation)
    with transaction.atomic():
        return _turn_start(conversation, parent=message.parent, text=text)


def reply_regenerate(*, conversation: Conversation, reply: Message) -> Message:
    """A new version of a reply to the same message, queued on commit."""
    if reply.role != Message.Role.ASSISTANT or reply.parent_id is None:
        raise ValidationError(_("Only a reply to a message can be regenerated."))
    _turn_check(conversation)
    with transaction.atomic():
        new_reply = Message.objects.create(
            conversation=conversation, parent_id=reply.parent_id, role=Message.Role.ASSISTANT,
            status=Message.Status.QUEUED)
        _current_set(conversation, new_reply)
        transaction.on_commit(lambda: generation_enqueue(reply=new_reply,
                                                         model=conversation.model))
    return new_reply


def branch_switch(*, conversation: Conversation, message: Message) -> Message:
    """Show the branch through ``message``: down to the newest reply under it."""
    leaf = selectors.branch_leaf(message=message)
    _current_set(conversation, leaf, activity=False)
    return leaf


def _message_text_clean(text: str) -> str:
    text = text.strip()
    if not text:
        raise ValidationError(_("Message is empty."))
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationError(_("Message is longer than %(limit)s characters.")
                              % {"limit": MAX_MESSAGE_CHARS})
    if "\x00" in text:  # PostgreSQL stores no NUL character
        raise ValidationError(_("Message contains a NUL character."))
    return text


def _turn_check(conversation: Conversation, *, while_writing: bool = False) -> None:
    """What every new turn needs: the model still allowed (groups may have changed since
    the conversation began) and the owner's quota not spent. A new version of a turn also
    waits for the reply being written; a next message may queue behind it."""
    from llmhub.api.quotas import quota_check  # the API app composes chat, not the reverse

    _model_check_access(conversation.owner, conversation.model)
    quota_check(user=conversation.owner)
    if not while_writing and selectors.conversation_has_active_reply(conversation=conversation):
        # One reply at a time: a second would answer a branch the first is still growing.
        raise ValidationError(_("Wait for the reply to end, or stop it, first."))


def _branch_leaf_locked(conversation: Conversation) -> Message | None:
    # The leaf read inside the transaction that adds to it, so two tabs posting at once
    # do not both append to the same message.
    Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
    conversation.refresh_from_db(fields=["current"])
    return conversation.current or conversation.messages.order_by("-id").first()


def _turn_start(conversation: Conversation, *, parent: Message | None,
                text: str) -> tuple[Message, Message]:
    user_message = Message.objects.create(
        conversation=conversation, parent=parent, role=Message.Role.USER, content=text)
    reply = Message.objects.create(
        conversation=conversation, parent=user_message, role=Message.Role.ASSISTANT,
        status=Message.Status.QUEUED)
    if not conversation.title:
        conversation.title = text[:80]
    _current_set(conversation, reply)
    # Queued only once the user's message is safely stored (DESIGN.md invariant 2).
    transaction.on_commit(lambda: generation_enqueue(reply=reply, model=conversation.model))
    return user_message, reply


def _current_set(conversation: Conversation, message: Message, *, activity: bool = True) -> None:
    conversation.current = message
    fields = ["current", "title", "updated_at"] if activity else ["current"]
    conversation.save(update_fields=fields)


def api_generation_start(*, owner: AbstractBaseUser, model: Model, params: dict,
                         endpoint: str) -> Message:
    """Queue one API request's generation, the same task and stream as the chat page's
    (DESIGN.md invariant 1). Its messages or prompt and its sampling options travel in
    the reply's ``params``; the conversation row is the request's record."""
    if not model.enabled:
        raise ValidationError(f"{model.name} is disabled")
    with transaction.atomic():
        conversation = Conversation.objects.create(
            owner=owner, model=model, title=endpoint, origin=Conversation.Origin.API)
        reply = Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT,
                                       status=Message.Status.QUEUED, params=params)
        transaction.on_commit(lambda: generation_enqueue(reply=reply, model=model))
    return reply


def generation_enqueue(*, reply: Message, model: Model) -> None:
    from chat.tasks import generate_reply

    generate_reply.apply_async(args=[reply.pk], queue=generation_queue(reply=reply, model=model))


def generation_queue(*, reply: Message, model: Model) -> str:
    """The worker that wrote the conversation's last reply holds its KV cache: send the next
    turn there while it serves the model, else to any worker of the model."""
    if model.backend != Model.Backend.LLAMACPP:
        return REMOTE_QUEUE
    previous = _previous_worker(reply)
    if previous and previous in model_live_workers(model.name):
        return model_queue_name(model.name, previous)
    return model_queue_name(model.name)


def _previous_worker(reply: Message) -> str:
    return (
        Message.objects.filter(conversation_id=reply.conversation_id, id__lt=reply.pk)
        .exclude(worker="")
        .order_by("-id")
        .values_list("worker", flat=True)
        .first()
    ) or ""


def _requeue_from_dead_worker(reply: Message, model: Model) -> None:
    """A reply sent to the queue of a worker that died before taking it would wait there
    forever: send it, once, to the model's shared queue. A second delivery is harmless
    (only one task can claim a queued reply)."""
    previous = _previous_worker(reply)
    if not previous or worker_is_alive(previous):
        return
    if redis_client().set(f"llmhub:gen:{reply.pk}:requeued", 1, nx=True,
                          ex=settings.GENERATION_MAX_SECONDS):
        from chat.tasks import generate_reply

        generate_reply.apply_async(args=[reply.pk], queue=model_queue_name(model.name))


def generation_cancel(*, reply: Message) -> None:
    redis_client().set(cancel_key(reply.pk), 1, ex=settings.GENERATION_MAX_SECONDS)


def generation_finish(*, reply_id: int, final: FinalFrame, tokens: list | None = None) -> bool:
    """Record a reply's terminal state once; False if it had already ended. ``tokens``, a
    chat reply's token log, goes in the same write as the status: a page that sees the
    reply ended (here or by its final frame, written after) may fetch them at once."""
    updated = Message.objects.filter(pk=reply_id, status__in=Message.ACTIVE).update(
        tokens=tokens,
        status=final["status"],
        content=final["text"],
        error=final["error"],
        finish_reason=final["finish_reason"],
        prompt_tokens=final["prompt_tokens"],
        completion_tokens=final["completion_tokens"],
        ttft_ms=final["ttft_ms"],
        tokens_per_second=final["tokens_per_second"],
        finished_at=timezone.now(),
    )
    return updated == 1


def failed_frame(error: str, text: str = "") -> FinalFrame:
    return FinalFrame(
        type="final", seq=0, status="failed", text=text, error=error, finish_reason="error",
        prompt_tokens=None, completion_tokens=None, ttft_ms=None, tokens_per_second=None,
    )


def generation_fail(*, reply: Message, error: str) -> bool:
    """End a reply as failed from outside its worker, and close its stream for readers."""
    final = failed_frame(error)
    if not generation_finish(reply_id=reply.pk, final=final):
        return False
    stream_final_append(redis_client(), reply.pk, final, ttl_seconds=settings.STREAM_TTL_SECONDS)
    return True


def generation_check(*, reply: Message) -> bool:
    """The reaper: fail a reply nobody can finish any more. True if it failed it.

    A queued reply fails when no live worker serves its model for the grace period; a
    streaming one when its worker stopped heart-beating (DESIGN.md invariant 2).
    """
    reply.refresh_from_db(fields=["status", "worker", "created_at"])
    if reply.status == Message.Status.QUEUED:
        waited = time.time() - reply.created_at.timestamp()
        model = reply.conversation.model
        if waited >= settings.NO_WORKER_GRACE_SECONDS:
            if not model_live_workers(model_workers_name(model)):
                return generation_fail(reply=reply, error=f"no worker is serving {model.name}")
            _requeue_from_dead_worker(reply, model)
    elif reply.status == Message.Status.STREAMING and not worker_is_alive(reply.worker):
        return generation_fail(
            reply=reply, error=f"worker {reply.worker} stopped while writing this reply"
        )
    return False
