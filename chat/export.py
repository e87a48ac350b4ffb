"""A conversation as a file to keep: Markdown to read, JSON for programs."""
from collections.abc import Iterable

from django.utils import timezone
from django.utils.formats import number_format
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chat.models import Conversation, Message

FILENAME_MAX_CHARS = 80


def export_filename(*, conversation: Conversation, extension: str) -> str:
    stem = slugify(conversation.title, allow_unicode=True)[:FILENAME_MAX_CHARS].strip("-_")
    return f"{stem or f'conversation-{conversation.pk}'}.{extension}"


def conversation_markdown(*, conversation: Conversation, messages: Iterable[Message]) -> str:
    """The title, the model and the date, then each message's text as written (a reply's
    Markdown kept), a reply followed by its figures and how it ended; the few labels in
    the language of the page it was downloaded from."""
    created = timezone.localtime(conversation.created_at).strftime("%Y-%m-%d %H:%M %Z")
    # A title taken from a first message may hold line breaks, which would end the heading.
    parts = [f"# {' '.join(str(conversation).split())}",
             _("Model: %(model)s · %(date)s") % {"model": conversation.model.name,
                                                  "date": created}]
    for message in messages:
        parts += ["---", _markdown_message(message, conversation.model.name)]
    return "\n\n".join(parts) + "\n"


def _markdown_message(message: Message, model_name: str) -> str:
    if message.role == Message.Role.USER:
        you = _("You")
        return f"**{you}**\n\n{_fences_closed(message.content)}"
    lines = [f"**{model_name}**"]
    if message.content:
        lines.append(_fences_closed(message.content))
    notes = _reply_notes(message)
    if notes:
        lines.append(f"*{notes}*")
    return "\n\n".join(lines)


def _fences_closed(text: str) -> str:
    # A reply stopped in the middle of a code block leaves its fence open, and everything
    # after it in the file would read as code.
    fences = sum(1 for line in text.splitlines() if line.lstrip().startswith("```"))
    return f"{text}\n```" if fences % 2 else text


def _reply_notes(reply: Message) -> str:
    """The line under a reply, in the words of the chat page's own."""
    notes = []
    if reply.completion_tokens is not None:
        if reply.prompt_tokens is not None:
            notes.append(ngettext("%(count)s prompt token", "%(count)s prompt tokens",
                                  reply.prompt_tokens) % {"count": reply.prompt_tokens})
        notes.append(ngettext("%(count)s token", "%(count)s tokens", reply.completion_tokens)
                     % {"count": reply.completion_tokens})
        if reply.ttft_ms is not None:
            notes.append(_("first token %(ms)s ms") % {"ms": _decimal(reply.ttft_ms, 0)})
        if reply.tokens_per_second:
            notes.append(_("%(rate)s tokens/s") % {"rate": _decimal(reply.tokens_per_second, 1)})
    if reply.status == Message.Status.CANCELLED:
        notes.append(_("stopped before the end"))
    elif reply.status == Message.Status.FAILED:
        # The error is stored as the worker wrote it, in English.
        notes.append(_("failed: %(error)s") % {"error": reply.error} if reply.error
                     else _("failed"))
    elif reply.is_active:
        notes.append(_("still being written when exported"))
    return " · ".join(notes)


def _decimal(value: float, places: int) -> str:
    # Rounded first: number_format alone cuts a float's digits off instead.
    return number_format(f"{value:.{places}f}", places)


def conversation_json(*, conversation: Conversation, messages: Iterable[Message]) -> dict:
    return {
        "id": conversation.pk,
        "title": conversation.title,
        "model": conversation.model.name,
        "created_at": conversation.created_at.isoformat(),
        "messages": [_json_message(message) for message in messages],
    }


def _json_message(message: Message) -> dict:
    return {
        "role": message.role,
        "content": message.content,
        "status": message.status,
        "created_at": message.created_at.isoformat(),
        "prompt_tokens": message.prompt_tokens,
        "completion_tokens": message.completion_tokens,
        "ttft_ms": message.ttft_ms,
        "tokens_per_second": message.tokens_per_second,
        "error": message.error,
    }
