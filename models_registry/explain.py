"""GGUF facts in words a newcomer understands, for the model card."""

# What the quantization families mean; the digit after Q is the bits of most weights.
_QUANT_FAMILIES = {
    "F32": "full 32-bit floats: the original weights, largest and slowest",
    "F16": "16-bit floats: as trained, no quantization loss",
    "BF16": "16-bit brain floats: as trained, no quantization loss",
    "IQ": "importance-matrix quantization: weights the calibration data found important "
          "keep more precision, so quality holds better at very low bits",
    "K": "k-quant: weights in blocks of 256 with per-block scales; _S, _M, _L trade size "
         "for quality (M is the usual choice)",
    "Q": "legacy block quantization: blocks of 32 weights share one scale",
}


def quantization_explained(file_type: str) -> str:
    if not file_type:
        return "unknown quantization"
    if file_type in _QUANT_FAMILIES:
        return _QUANT_FAMILIES[file_type]
    bits = "".join(ch for ch in file_type.split("_")[0] if ch.isdigit())
    family = "IQ" if file_type.startswith("IQ") else "K" if "_K" in file_type else "Q"
    return f"{bits}-bit weights; {_QUANT_FAMILIES[family]}"


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


def bytes_in_words(size: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def count_in_words(count: int) -> str:
    for unit, scale in (("billion", 1e9), ("million", 1e6), ("thousand", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return str(count)


def model_card_facts(metadata: dict, *, context_length: int, slots: int) -> list[tuple[str, str]]:
    """(label, explanation) rows for a model card; empty when the header was never read."""
    if not metadata:
        return []
    from models_registry.gguf_metadata import GGUFMetadata

    meta = GGUFMetadata(**metadata)
    kv = meta.kv_cache_bytes(context_length * slots)
    return [
        ("Parameters", f"{count_in_words(meta.parameter_count)} numbers learned in training "
                       f"({meta.size_label or 'size not labelled'})"),
        ("Quantization", f"{meta.file_type}, {meta.bits_per_weight} bits per weight on "
                         f"average: {quantization_explained(meta.file_type)}"),
        ("Architecture", f"{meta.architecture}: {meta.block_count} layers, "
                         f"{meta.head_count} attention heads ({meta.head_count_kv} for keys "
                         f"and values), {meta.embedding_length} numbers per token"),
        ("Context", f"trained for {meta.context_length:,} tokens; this hub gives each reply "
                    f"{context_length:,} tokens (prompt and answer together)"),
        ("Memory", f"{bytes_in_words(meta.file_size)} of weights + {bytes_in_words(kv)} of "
                   f"KV cache for {slots} replies at once = "
                   f"{bytes_in_words(meta.file_size + kv)}"),
        ("Tokenizer", f"{meta.tokenizer_model}, {meta.vocab_size:,} tokens in its vocabulary"),
        ("Chat template", "yes: it knows who speaks" if meta.chat_template
         else "none: it completes text rather than chats"),
    ]
