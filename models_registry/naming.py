"""Read a model's family, size, quantization and specialty from its GGUF file name.

The names follow the usual Hugging Face nomenclature,
``<Family words>-<Size>-<Specialty>-<release>[.|-][i1-|UD-]<QUANT>[-NNNNN-of-NNNNN].gguf``,
for example ``Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf``,
``Mistral-Nemo-Instruct-2407.i1-Q4_K_M.gguf`` or ``qwen2.5-7b-instruct-q4_k_m-00001-of-00002.gguf``.

Rules (one name, read left to right, split on ``-``, ``_`` and on dots that are not inside
a number, so ``3.1``, ``qwen2.5`` and ``v0.3`` stay whole):

* **quant**: the last llama.cpp quantization label (``Q4_K_M``, ``Q8_0``, ``IQ3_XS``,
  ``Q4_K_XL``, ``TQ1_0``, ``F16``, ``BF16``, ``F32``, ``MXFP4``...), upper-cased; ``fp16``
  and ``fp32`` read as ``F16``/``F32``. ``None`` when the name has none.
* **size**: the first ``<n>B``/``<n>M``/``<k>x<n>B`` word (``135M``, ``1.5B``, ``8x7B``), unit
  upper-cased; Gemma 3n's ``E2B``/``E4B`` count too, and an active-parameter word right after
  the size joins it (``Qwen3-30B-A3B`` -> ``30B-A3B``). ``None`` when not written:
  ``Phi-3.5-mini`` says ``mini``, not ``3.8B``, and no table of known sizes is consulted.
* **specialty**: tags in the order they appear, without repeats, from
  ``instruct``/``it`` -> ``instruct``, ``chat`` -> ``chat``,
  ``embed``/``embedding(s)`` -> ``embed``,
  ``code``/``coder`` -> ``code``, ``vision``/``vl``/``llava`` -> ``vision``,
  ``multilingual`` -> ``multilingual``; a few families imply one (``codellama`` -> code,
  ``bge``/``e5``/``gte`` -> embed, ``llava``/``bakllava`` -> vision).
* **family**: the words left, lower-cased and joined by ``-`` as written (``Llama-3.1`` ->
  ``llama-3.1``, ``Qwen2.5`` -> ``qwen2.5``). Role words (``instruct``, ``it``, ``chat``)
  leave the family; domain words (``coder``, ``embed``, ``vision``, ``vl``, ``llava``,
  ``multilingual``) are part of the product name and stay in it while also being tagged:
  ``Qwen2.5-Coder-7B-Instruct`` -> family ``qwen2.5-coder``, specialty ``(code, instruct)``.
  A leading ``Meta`` before ``Llama`` is dropped, and so are packaging words
  (``gguf``, ``ggml``, ``model``, ``hf``, ``i1``, ``imat``, ``imatrix``, ``ud``) and context
  lengths (``4k``, ``128k``).
* **release**: kept out of the family, in ``release``: dates (``2407``, ``0528``, any 4-, 6- or
  8-digit word) and ``v`` versions that have a dot (``v0.3``, ``v1.5``) or that come after the
  size or a role word (``...-chat-v1``). A dotless ``v`` word before them is part of the
  name (``DeepSeek-V3``, ``DeepSeek-Coder-V2-Lite``); the flip side is that ``DeepSeek-V2.5``
  reads as family ``deepseek``, release ``v2.5``.
* **split**: ``-00001-of-00003`` at the end gives ``split_index=1``, ``split_count=3``.

``model_name_parse(file_name, repo_id)``: the file name wins; the repo name (the part after
``owner/``, ``-GGUF`` dropped) fills each field the file name leaves empty (family, size,
quant, release, specialty), so a bare ``ggml-model-Q4_K_M.gguf`` takes everything but its quant
from its repo.

``ModelName.ollama_name`` is ``family:size-specialty...-quant``, lower-case, each missing part
left out (and the ``:`` too when nothing follows it); the release is not part of it:
``llama-3.1:8b-instruct-q4_k_m``, ``qwen2.5-coder:7b-code-instruct-q6_k``,
``mistral-nemo:instruct-q4_k_m``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

GGUF_SUFFIX = ".gguf"

_SPLIT = re.compile(r"[-._](\d{5})-of-(\d{5})$", re.IGNORECASE)
_QUANT = re.compile(
    r"(?:^|(?<=[-._]))"
    r"(T?I?Q[1-8](?:_(?:[0-9]+|K|XXS|XS|S|M|L|XL|NL))*|BF16|FP16|F16|FP32|F32|MXFP4)"
    r"(?=$|[-._])",
    re.IGNORECASE,
)
_WORD_SPLIT = re.compile(r"[-_\s]+|(?<!\d)\.|\.(?!\d)")
_SIZE = re.compile(r"^(?:(\d+)x)?(\d+(?:\.\d+)?)([bm])$", re.IGNORECASE)
_EFFECTIVE_SIZE = re.compile(r"^e\d+(?:\.\d+)?b$", re.IGNORECASE)
_ACTIVE_SIZE = re.compile(r"^a\d+(?:\.\d+)?b$", re.IGNORECASE)
_DATE = re.compile(r"^(?:\d{4}|\d{6}|\d{8})$")
_VERSION = re.compile(r"^v\d+(\.\d+)*$", re.IGNORECASE)
_CONTEXT = re.compile(r"^\d+k$", re.IGNORECASE)

_ROLE_WORDS = {"instruct": "instruct", "it": "instruct", "chat": "chat"}
_DOMAIN_WORDS = {
    "code": "code",
    "coder": "code",
    "embed": "embed",
    "embedding": "embed",
    "embeddings": "embed",
    "vision": "vision",
    "vl": "vision",
    "llava": "vision",
    "multilingual": "multilingual",
}
_IMPLIED = {
    "codellama": "code",
    "bge": "embed",
    "e5": "embed",
    "gte": "embed",
    "bakllava": "vision",
}
_PACKAGING_WORDS = {"gguf", "ggml", "model", "hf", "i1", "imat", "imatrix", "ud"}
_QUANT_ALIASES = {"FP16": "F16", "FP32": "F32"}


@dataclass(frozen=True)
class ModelName:
    """What a GGUF file name says about its model; see the module docstring for the rules."""

    family: str
    size: str | None = None
    quant: str | None = None
    specialty: tuple[str, ...] = ()
    release: str | None = None
    split_index: int | None = None
    split_count: int | None = None

    @property
    def ollama_name(self) -> str:
        parts = [self.size.lower()] if self.size else []
        parts += list(self.specialty)
        if self.quant:
            parts.append(self.quant.lower())
        return f"{self.family}:{'-'.join(parts)}" if parts else self.family


@dataclass
class _Reading:
    family: str = ""
    size: str | None = None
    quant: str | None = None
    specialty: tuple[str, ...] = ()
    release: str | None = None


def model_name_parse(file_name: str, repo_id: str = "") -> ModelName:
    """Parse a GGUF file name, with its Hugging Face repo id filling what the file lacks."""
    base = re.split(r"[/\\]", (file_name or "").strip())[-1]
    if not base:
        raise ValueError("A model file name is required, got an empty one.")
    if not base.lower().endswith(GGUF_SUFFIX) or len(base) == len(GGUF_SUFFIX):
        raise ValueError(f"{file_name!r} is not a GGUF file name (expected '<model>.gguf').")
    stem = base[: -len(GGUF_SUFFIX)]

    split_index = split_count = None
    split = _SPLIT.search(stem)
    if split:
        split_index, split_count = int(split[1]), int(split[2])
        if not 1 <= split_index <= split_count:
            raise ValueError(f"{file_name!r} names part {split_index} of {split_count}.")
        stem = stem[: split.start()]

    reading = _name_read(stem, with_quant=True)
    repo_name = (repo_id or "").strip().rstrip("/").split("/")[-1]
    if repo_name:
        repo = _name_read(repo_name, with_quant=False)
        reading.family = reading.family or repo.family
        reading.size = reading.size or repo.size
        reading.specialty = reading.specialty or repo.specialty
        reading.release = reading.release or repo.release
    if not reading.family:
        raise ValueError(
            f"Cannot tell the model family from {file_name!r}"
            + (f" nor from repo {repo_id!r}." if repo_name else "; give its repo id.")
        )
    return ModelName(
        family=reading.family,
        size=reading.size,
        quant=reading.quant,
        specialty=reading.specialty,
        release=reading.release,
        split_index=split_index,
        split_count=split_count,
    )


def _name_read(name: str, *, with_quant: bool) -> _Reading:
    reading = _Reading()
    if with_quant:
        quants = list(_QUANT.finditer(name))
        if quants:
            last = quants[-1]
            label = last[1].upper()
            reading.quant = _QUANT_ALIASES.get(label, label)
            name = name[: last.start()] + "-" + name[last.end() :]
    family: list[str] = []
    tags: list[str] = []
    releases: list[str] = []
    past_name = False  # after the size or a role word, a dotless v-word is a release
    words = [w for w in _WORD_SPLIT.split(name) if w]
    for position, word in enumerate(words):
        low = word.lower()
        size = _size_read(word)
        if size and reading.size is None:
            reading.size = size
            past_name = True
        elif _ACTIVE_SIZE.match(word) and reading.size and _size_read(words[position - 1]):
            reading.size += f"-{word.upper()}"
        elif low in _ROLE_WORDS:
            tags.append(_ROLE_WORDS[low])
            past_name = True
        elif _DATE.match(word) or (_VERSION.match(word) and ("." in word or past_name)):
            releases.append(low)
        elif _CONTEXT.match(word) or low in _PACKAGING_WORDS:
            continue
        elif low == "meta" and not family and "llama" in (w.lower() for w in words):
            continue
        else:
            family.append(low)
            if low in _DOMAIN_WORDS:
                tags.append(_DOMAIN_WORDS[low])
            elif low in _IMPLIED:
                tags.append(_IMPLIED[low])
    reading.family = "-".join(family)
    reading.specialty = tuple(dict.fromkeys(tags))
    reading.release = "-".join(releases) or None
    return reading


def _size_read(word: str) -> str | None:
    match = _SIZE.match(word)
    if match:
        experts, count, unit = match.groups()
        return f"{experts + 'x' if experts else ''}{count}{unit.upper()}"
    if _EFFECTIVE_SIZE.match(word):
        return word.upper()
    return None
