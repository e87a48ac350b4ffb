"""Chat pages: thin adapters over chat.selectors and chat.services."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from chat import selectors, services
from chat.forms import ConversationForm


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
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404("No such conversation.")
    messages = list(selectors.message_list(conversation=conversation))
    for message in messages:
        if message.is_active:
            services.generation_check(reply=message)
    context = _sidebar_context(request) | {"conversation": conversation, "messages": messages}
    return render(request, "chat/conversation.html", context)


def _sidebar_context(request: HttpRequest, form: ConversationForm | None = None) -> dict:
    return {
        "conversations": selectors.conversation_list(user=request.user)[:200],
        "form": form or ConversationForm(user=request.user),
    }
