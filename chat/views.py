"""Chat pages: thin adapters over chat.selectors and chat.services."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from chat import export, prompting, selectors, services, sharing
from chat.forms import ConversationForm, ConversationSettingsForm
from chat.models import Conversation
from models_registry.badges import model_badges_for

CONVERSATIONS_LISTED = 200
SEARCH_RESULTS_LISTED = 100
SEARCH_MAX_CHARS = 200


@login_required
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/index.html", _sidebar_context(request))


@login_required
@require_POST
def conversation_new(request: HttpRequest) -> HttpResponse:
    form = ConversationForm(request.POST, user=request.user)
    if not form.is_valid():
        return render(request, "chat/index.html", _sidebar_context(request, form), status=400)
    try:
        conversation = services.conversation_create(
            owner=request.user, model=form.cleaned_data["model"]
        )
    except ValidationError as refusal:  # access lost since the form was shown, say
        form.add_error("model", refusal)
        return render(request, "chat/index.html", _sidebar_context(request, form), status=400)
    return redirect("chat:conversation", conversation_id=conversation.pk)


@login_required
def conversation_detail(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    return render(request, "chat/conversation.html", _conversation_context(request, conversation))


@login_required
@require_POST
def conversation_rename(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    try:
        services.conversation_rename(conversation=conversation,
                                     title=request.POST.get("title", ""))
    except ValidationError as refusal:
        context = _conversation_context(request, conversation)
        context["rename_error"] = refusal.messages[0]
        return render(request, "chat/conversation.html", context, status=400)
    return redirect("chat:conversation", conversation_id=conversation.pk)


@login_required
@require_POST
def conversation_delete(request: HttpRequest, conversation_id: int) -> HttpResponse:
    """The first POST asks to confirm; the second, with ``confirmed=yes``, deletes."""
    conversation = _conversation_or_404(request, conversation_id)
    if request.POST.get("confirmed") != "yes":
        # Every version goes, not only the branch on show.
        messages = list(selectors.message_list_all(conversation=conversation))
        context = {"conversation": conversation, "message_count": len(messages),
                   "writing": any(message.is_active for message in messages)}
        return render(request, "chat/delete.html", context)
    services.conversation_delete(conversation=conversation)
    return redirect("chat:index")


@login_required
@require_safe
def conversation_export_markdown(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    text = export.conversation_markdown(
        conversation=conversation, messages=selectors.message_list(conversation=conversation))
    return HttpResponse(text, content_type="text/markdown; charset=utf-8",
                        headers=_attachment(conversation, "md"))


@login_required
@require_safe
def conversation_export_json(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    data = export.conversation_json(
        conversation=conversation, messages=selectors.message_list(conversation=conversation))
    return JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False},
                        headers=_attachment(conversation, "json"))


@login_required
@require_safe
def message_tokens(request: HttpRequest, conversation_id: int, message_id: int) -> HttpResponse:
    """A reply's tokens with their top alternatives, for the probability view."""
    conversation = _conversation_or_404(request, conversation_id)
    tokens = selectors.reply_tokens(conversation=conversation, reply_id=message_id)
    if tokens is None:
        raise Http404(_("No token probabilities for this reply."))
    return JsonResponse({"tokens": tokens})


@login_required
@require_POST
def conversation_settings(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _conversation_or_404(request, conversation_id)
    form = ConversationSettingsForm(
        request.POST, defaults=prompting.conversation_settings_defaults(conversation))
    if form.is_valid():
        try:
            services.conversation_settings_update(
                conversation=conversation, system_prompt=form.cleaned_data["system_prompt"],
                settings=form.settings())
        except ValidationError as refusal:
            form.add_error("system_prompt", refusal)
    if not form.is_valid():
        context = _conversation_context(request, conversation, settings_form=form)
        return render(request, "chat/conversation.html", context, status=400)
    return redirect("chat:conversation", conversation_id=conversation.pk)


def _attachment(conversation: Conversation, extension: str) -> dict[str, str]:
    filename = export.export_filename(conversation=conversation, extension=extension)
    return {"Content-Disposition": content_disposition_header(True, filename)}


def _conversation_or_404(request: HttpRequest, conversation_id: int) -> Conversation:
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404(_("No such conversation."))
    return conversation


def _conversation_context(request: HttpRequest, conversation: Conversation,
                          settings_form: ConversationSettingsForm | None = None) -> dict:
    messages = selectors.message_list(conversation=conversation)
    for message in messages:
        if message.is_active:
            services.generation_check(reply=message)
    defaults = prompting.conversation_settings_defaults(conversation)
    if settings_form is None:
        settings_form = ConversationSettingsForm(
            initial={"system_prompt": conversation.system_prompt, **conversation.settings},
            defaults=defaults)
    return _sidebar_context(request) | {
        "conversation": conversation,
        "messages": messages,
        "badges": model_badges_for(conversation.model),
        "settings_form": settings_form,
        "share_link": sharing.share_link_active(conversation=conversation),
    }


def _sidebar_context(request: HttpRequest, form: ConversationForm | None = None) -> dict:
    query = request.GET.get("q", "").strip()[:SEARCH_MAX_CHARS]
    if query:
        conversations = selectors.conversation_search(
            user=request.user, query=query)[:SEARCH_RESULTS_LISTED]
    else:
        conversations = selectors.conversation_list(user=request.user)[:CONVERSATIONS_LISTED]
    return {
        "conversations": conversations,
        "q": query,
        "form": form or ConversationForm(user=request.user),
    }
