"""Sizes, rates, times and states in words for the registry's pages, in the active language;
static/models_registry/cluster.js words live updates the same way, so keep the two in step."""
from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from models_registry.explain import bytes_in_words, one_decimal
from models_registry.models import Model, Placement

register = template.Library()

# The models' choice labels stay plain English (translating them there takes a migration):
# the pages word states and backends from these.
_STATE_LABELS = {
    Placement.State.PENDING: gettext_lazy("Waiting for the node"),
    Placement.State.PULLING: gettext_lazy("Downloading"),
    Placement.State.LOADING: gettext_lazy("Loading"),
    Placement.State.READY: gettext_lazy("Serving"),
    Placement.State.FAILED: gettext_lazy("Failed"),
}
_BACKEND_LABELS = {
    Model.Backend.LLAMACPP: gettext_lazy("llama.cpp (local)"),
    Model.Backend.OPENAI: gettext_lazy("OpenAI-compatible server"),
    Model.Backend.OPENROUTER: "OpenRouter",
    Model.Backend.OLLAMA: gettext_lazy("Ollama server"),
}


@register.filter
def bytes_words(size: int | None) -> str:
    return bytes_in_words(size or 0)


@register.filter
def rate_words(bytes_per_second: int | None) -> str:
    return _("%(rate)s MB/s") % {"rate": one_decimal((bytes_per_second or 0) / 1e6)}


@register.filter
def eta_words(seconds: float | None) -> str:
    if seconds is None:
        return _("time left unknown")
    seconds = round(seconds)
    if seconds < 60:
        return _("%(s)s s left") % {"s": seconds}
    if seconds < 3600:
        return _("%(min)s min %(s)s s left") % {"min": seconds // 60, "s": seconds % 60}
    return _("%(h)s h %(min)s min left") % {"h": seconds // 3600, "min": seconds % 3600 // 60}


@register.filter
def pull_words(progress: dict) -> str:
    """A pull's progress as one line: "40.0 MB of 100.0 MB · 5.0 MB/s · 12 s left"."""
    done = bytes_in_words(progress.get("done") or 0)
    if progress.get("total"):
        done = _("%(done)s of %(total)s") % {"done": done,
                                             "total": bytes_in_words(progress["total"])}
    return " · ".join([done, rate_words(progress.get("rate")), eta_words(progress.get("eta"))])


@register.filter
def state_words(state: str) -> str:
    """A replica's state in words ("Downloading" for pulling)."""
    return str(_STATE_LABELS.get(state, state))


@register.filter
def backend_words(backend: str) -> str:
    return str(_BACKEND_LABELS.get(backend, backend))


@register.filter
def gpu_words(gpu: dict) -> str:
    return _("%(name)s: %(free)s free of %(total)s") % {
        "name": gpu.get("name", "GPU"), "free": bytes_in_words(gpu.get("memory_free", 0)),
        "total": bytes_in_words(gpu.get("memory_total", 0))}
