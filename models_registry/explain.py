"""GGUF facts in words a newcomer understands, for the model card."""
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, ngettext_lazy, pgettext

# What the quantization families mean; the digit after Q is the bits of most weights.
_QUANT_FAMILIES = {
    "F32": gettext_lazy("full 32-bit floats: the original weights, largest and slowest"),
    "F16": gettext_lazy("16-bit floats: as trained, no quantization loss"),
    "BF16": gettext_lazy("16-bit brain floats: as trained, no quantization loss"),
    "IQ": gettext_lazy("importance-matrix quantization: weights the calibration data found "
                       "important keep more precision, so quality holds better at very low "
                       "bits"),
    "K": gettext_lazy("k-quant: weights in blocks of 256 with per-block scales; _S, _M, _L "
                      "trade size for quality (M is the usual choice)"),
    "Q": gettext_lazy("legacy block quantization: blocks of 32 weights share one scale"),
}


def quantization_explained(file_type: str) -> str:
    if not file_type:
        return _("unknown quantization")
    if file_type in _QUANT_FAMILIES:
        return str(_QUANT_FAMILIES[file_type])
    bits = "".join(ch for ch in file_type.split("_")[0] if ch.isdigit())
    family = "IQ" if file_type.startswith("IQ") else "K" if "_K" in file_type else "Q"
    return _("%(bits)s-bit weights; %(family)s") % {"bits": bits,
                                                     "family": _QUANT_FAMILIES[family]}


def model_badges(file_path: str) -> list[str]:
    """Family, size, quantization and specialty read from the file name, as badges."""
    from pathlib import Path

    from models_registry.naming import model_name_parse

    try:
        name = model_name_parse(Path(file_path).name)
    except ValueError:
        return []
    parts = [name.family, name.size, name.quant, *name.specialty]
    return [part for part in parts if part]


def one_decimal(number: float) -> str:
    """Rounded to one decimal, with the language's separator: "1.5", "1,5". Rounded first,
    because number_format cuts the extra digits off rather than rounding."""
    return number_format(round(number, 1), 1)


def bytes_in_words(size: int) -> str:
    """A size in the active language: "1.5 GB", "1,5 Go". static/models_registry/cluster.js
    words live updates the same way."""
    for unit, scale in ((pgettext("bytes", "GB"), 1e9), (pgettext("bytes", "MB"), 1e6),
                        (pgettext("bytes", "kB"), 1e3)):
        if size >= scale:
            return f"{one_decimal(size / scale)} {unit}"
    return ngettext("%(count)s byte", "%(count)s bytes", size) % {"count": size}


# ngettext_lazy's "whole" names the number that picks the form: French says "1,5 milliard"
# but "2,5 milliards", so the whole part decides.
_COUNT_UNITS = (
    (1e9, ngettext_lazy("%(count)s billion", "%(count)s billion", "whole")),
    (1e6, ngettext_lazy("%(count)s million", "%(count)s million", "whole")),
    (1e3, ngettext_lazy("%(count)s thousand", "%(count)s thousand", "whole")),
)


def count_in_words(count: int) -> str:
    for scale, words in _COUNT_UNITS:
        if count >= scale:
            return words % {"count": one_decimal(count / scale),
                            "whole": int(count / scale)}
    return str(count)


def _grouped(number: int) -> str:
    return number_format(number, force_grouping=True)


def model_card_facts(metadata: dict, *, context_length: int, slots: int) -> list[tuple[str, str]]:
    """(label, explanation) rows for a model card; empty when the header was never read."""
    if not metadata:
        return []
    from models_registry.gguf_metadata import GGUFMetadata

    meta = GGUFMetadata(**metadata)
    kv = meta.kv_cache_bytes(context_length * slots)
    return [
        (_("Parameters"), _("%(count)s numbers learned in training (%(label)s)") % {
            "count": count_in_words(meta.parameter_count),
            "label": meta.size_label or _("size not labelled")}),
        (_("Quantization"), _("%(type)s, %(bits)s bits per weight on average: %(meaning)s") % {
            "type": meta.file_type, "bits": number_format(meta.bits_per_weight),
            "meaning": quantization_explained(meta.file_type)}),
        (_("Architecture"), _("%(architecture)s: %(layers)s layers, %(heads)s attention heads "
                              "(%(kv_heads)s for keys and values), %(width)s numbers per token")
         % {"architecture": meta.architecture, "layers": meta.block_count,
            "heads": meta.head_count, "kv_heads": meta.head_count_kv,
            "width": meta.embedding_length}),
        (_("Context"), _("trained for %(trained)s tokens; this hub gives each reply %(given)s "
                         "tokens (prompt and answer together)")
         % {"trained": _grouped(meta.context_length), "given": _grouped(context_length)}),
        (_("Memory"), ngettext(
            "%(weights)s of weights + %(kv)s of KV cache for %(slots)s reply at once = %(total)s",
            "%(weights)s of weights + %(kv)s of KV cache for %(slots)s replies at once = "
            "%(total)s", slots)
         % {"weights": bytes_in_words(meta.file_size), "kv": bytes_in_words(kv),
            "slots": slots, "total": bytes_in_words(meta.file_size + kv)}),
        (_("Tokenizer"), _("%(model)s, %(size)s tokens in its vocabulary") % {
            "model": meta.tokenizer_model, "size": _grouped(meta.vocab_size)}),
        (_("Chat template"), _("yes: it knows who speaks") if meta.chat_template
         else _("none: it completes text rather than chats")),
    ]
