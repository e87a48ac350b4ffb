"""Sizes, rates and times in words for the registry's pages; static/models_registry/cluster.js
words live updates the same way, so keep the two in step."""
from django import template

from models_registry.explain import bytes_in_words
from models_registry.models import Placement

register = template.Library()


@register.filter
def bytes_words(size: int | None) -> str:
    return bytes_in_words(size or 0)


@register.filter
def rate_words(bytes_per_second: int | None) -> str:
    return f"{(bytes_per_second or 0) / 1e6:.1f} MB/s"


@register.filter
def eta_words(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s left"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s left"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min left"


@register.filter
def state_words(state: str) -> str:
    """A replica's state as the model's choices label it ("Downloading" for pulling)."""
    try:
        return Placement.State(state).label
    except ValueError:
        return state


@register.filter
def gpu_words(gpu: dict) -> str:
    return (f"{gpu.get('name', 'GPU')}: {bytes_in_words(gpu.get('memory_free', 0))} free "
            f"of {bytes_in_words(gpu.get('memory_total', 0))}")
