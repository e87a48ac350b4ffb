"""Sharing by link: the owner's Share and Stop sharing buttons, and the read-only page a
link opens. Thin adapters over chat.sharing."""
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from chat import selectors, sharing
from chat.models import Conversation


@login_required
@require_POST
def share_create(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation_or_404(request, conversation_id)
    sharing.share_link_create(conversation=conversation)
    return _back_to_share_box(conversation)


@login_required
@require_POST
def share_revoke(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = _own_conversation_or_404(request, conversation_id)
    sharing.share_link_revoke(conversation=conversation)
    return _back_to_share_box(conversation)


@login_required
@never_cache  # a revoked link must not live on in a browser's cache
@require_safe
def shared_conversation(request: HttpRequest, token: str) -> HttpResponse:
    conversation = sharing.shared_conversation_get(token=token)
    if conversation is None:
        raise Http404(_("This link does not exist, or its owner stopped sharing."))
    return render(request, "chat/shared.html", {
        "conversation": conversation,
        "branch": selectors.message_list(conversation=conversation),
    })


def _own_conversation_or_404(request: HttpRequest, conversation_id: int) -> Conversation:
    # Someone else's conversation and a missing one look the same.
    conversation = selectors.conversation_get(user=request.user, conversation_id=conversation_id)
    if conversation is None:
        raise Http404(_("No such conversation."))
    return conversation


def _back_to_share_box(conversation: Conversation) -> HttpResponseRedirect:
    # share.js opens the share box and focuses it when the page is reached through
    # #sharing. No element has that id: Chrome would move focus away to a fragment's target.
    url = reverse("chat:conversation", kwargs={"conversation_id": conversation.pk})
    return HttpResponseRedirect(f"{url}#sharing")
