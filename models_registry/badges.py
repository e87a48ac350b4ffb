"""What a model picker shows of a model: family, size, quantization, specialty, where it runs."""
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from models_registry.models import Model
from models_registry.naming import model_name_parse


@dataclass(frozen=True)
class Badge:
    kind: str  # family, size, quant, specialty or place: a CSS hook
    text: str


def model_badges_for(model: Model) -> list[Badge]:
    """Badges from the model's file name (or its name on a remote server), then local or
    cloud. A name the parser cannot read gives only the place badge."""
    named = Path(model.file_path).name if model.file_path else model.remote_name or model.name
    try:
        parsed = model_name_parse(named)
    except ValueError:
        parsed = None
    badges = []
    if parsed is not None:
        badges += [Badge("family", parsed.family)]
        badges += [Badge("size", parsed.size)] if parsed.size else []
        badges += [Badge("quant", parsed.quant)] if parsed.quant else []
        badges += [Badge("specialty", word) for word in parsed.specialty]
    local = model.backend == Model.Backend.LLAMACPP
    badges.append(Badge("place", str(_("local") if local else _("cloud"))))
    return badges


def model_badges_text(model: Model) -> str:
    """The badges as one line, for places that only take text (a <select>'s option)."""
    return " · ".join(badge.text for badge in model_badges_for(model))
