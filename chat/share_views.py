"""Read-only sharing of a conversation by link (stub: being written)."""
from django.http import Http404


def share_create(request, conversation_id):
    raise Http404


def share_revoke(request, conversation_id):
    raise Http404


def shared_conversation(request, token):
    raise Http404
