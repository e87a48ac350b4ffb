"""Compare mode: one prompt, 2 or 3 models side by side (stub: being written)."""
from django.http import Http404


def compare_new(request):
    raise Http404


def compare_detail(request, comparison_id):
    raise Http404
