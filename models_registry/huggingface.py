"""The hub's access to Hugging Face: which GGUF models a repo offers, and where their files are.

Runs in the web process (an admin picks a quantization from a repo), so it imports neither numpy
nor gguf, and no Django model. The endpoint and token come from ``settings.HF_ENDPOINT`` and
``settings.HF_TOKEN``; every failure reaches the caller as a :class:`HubError` whose message an
admin can act on.
"""
from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from models_registry.explain import bytes_in_words
from models_registry.naming import _SPLIT, GGUF_SUFFIX, model_name_parse

if TYPE_CHECKING:
    from huggingface_hub import HfApi

logger = logging.getLogger(__name__)

# The Hub's rule (huggingface_hub's validate_repo_id): 1-96 of letters, digits, '-', '_', '.'
# per part, starting and ending with a letter, digit or '_'; no '--' nor '..'.
_REPO_PART = r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"{_REPO_PART}/{_REPO_PART}")
_MMPROJ = re.compile(r"(?:^|[-._])mmproj(?:[-._]|$)", re.IGNORECASE)
# One request, no retries: list_repo_tree retries a refused connection five times (about 23 s
# of back-off) and waits forever on a silent server, too long for an admin page.
_PROBE_TIMEOUT_SECONDS = 10


class HubError(Exception):
    """Hugging Face could not answer; the message says why, in words for the admin."""


@dataclass(frozen=True)
class RepoFile:
    """One file of a repo; ``sha256`` is "" when the listing gives none (a plain git file)."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class GGUFChoice:
    """What an admin picks: one quantization of a model, maybe split in parts."""

    files: tuple[RepoFile, ...]  # the parts in order; one file unless split
    size: int
    quant: str | None
    suggested_name: str

    @property
    def label(self) -> str:
        words = [self.quant or _file_stem(self.files[0].path), bytes_in_words(self.size)]
        if len(self.files) > 1:
            words.append(ngettext("%(count)d part", "%(count)d parts", len(self.files))
                         % {"count": len(self.files)})
        return ", ".join(words)


def hf_api() -> HfApi:
    from huggingface_hub import HfApi

    return HfApi(endpoint=settings.HF_ENDPOINT, token=_token())


def hf_headers() -> dict[str, str]:
    from huggingface_hub.utils import build_hf_headers

    return build_hf_headers(token=_token())


def hf_file_url(repo_id: str, path: str, revision: str = "main") -> str:
    from huggingface_hub import hf_hub_url

    repo_id = repo_id_check(repo_id)
    return hf_hub_url(repo_id, path, revision=revision, endpoint=settings.HF_ENDPOINT)


def hf_gguf_choices(repo_id: str, revision: str = "main") -> list[GGUFChoice]:
    """The GGUF models of a repo, smallest first; vision projectors and incomplete splits left out.

    Raises HubError for a malformed repo id, an unknown repo or revision, a repo without GGUF
    model and a Hub that cannot be reached.
    """
    repo_id = repo_id_check(repo_id)
    files = [file for file in hf_repo_files(repo_id, revision) if _is_gguf_model(file.path)]
    choices = [_choice_make(parts, repo_id) for parts in _split_sets(files)]
    if not choices:
        if revision == "main":
            raise HubError(_("%(repo)s has no GGUF file.") % {"repo": repo_id})
        raise HubError(_("%(repo)s has no GGUF file at revision '%(revision)s'.")
                       % {"repo": repo_id, "revision": revision})
    return sorted(choices, key=lambda choice: (choice.size, choice.files[0].path))


def hf_repo_files(repo_id: str, revision: str = "main") -> list[RepoFile]:
    """Every file of the repo at that revision, in subfolders too."""
    from huggingface_hub.hf_api import RepoFile as HubTreeFile

    repo_id = repo_id_check(repo_id)
    api = hf_api()
    with _hub_errors_explained(repo_id, revision):
        api.model_info(repo_id, revision=revision, timeout=_PROBE_TIMEOUT_SECONDS)
        entries = list(api.list_repo_tree(repo_id, revision=revision, recursive=True))
    return [
        RepoFile(path=entry.path, size=entry.size, sha256=entry.lfs.sha256 if entry.lfs else "")
        for entry in entries
        if isinstance(entry, HubTreeFile)
    ]


def repo_id_check(repo_id: str) -> str:
    """The repo id without surrounding blanks; HubError unless it reads ``owner/name``."""
    repo_id = (repo_id or "").strip()
    if not _REPO_ID.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        raise HubError(
            _("'%(repo)s' is not a Hugging Face repo id: expected owner/name in letters, "
              "digits, '-', '_' and '.', for example bartowski/Qwen2.5-7B-Instruct-GGUF.")
            % {"repo": repo_id}
        )
    return repo_id


def _token() -> str | None:
    # None lets huggingface_hub fall back to a token saved by `hf auth login` on this machine.
    return settings.HF_TOKEN or None


@contextmanager
def _hub_errors_explained(repo_id: str, revision: str) -> Iterator[None]:
    import httpx2
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    endpoint = settings.HF_ENDPOINT
    try:
        yield
    except GatedRepoError as error:
        raise HubError(
            _("%(repo)s on %(endpoint)s is gated: accept its terms on the Hub with the account "
              "whose token is in HF_TOKEN.") % {"repo": repo_id, "endpoint": endpoint}
        ) from error
    except RepositoryNotFoundError as error:
        raise HubError(
            _("no repository '%(repo)s' on %(endpoint)s (or it is private and HF_TOKEN cannot "
              "read it).") % {"repo": repo_id, "endpoint": endpoint}
        ) from error
    except RevisionNotFoundError as error:
        raise HubError(_("%(repo)s on %(endpoint)s has no revision '%(revision)s'.")
                       % {"repo": repo_id, "endpoint": endpoint, "revision": revision}) from error
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "an error"
        raise HubError(_("%(endpoint)s answered %(status)s for %(repo)s.")
                       % {"endpoint": endpoint, "status": status, "repo": repo_id}) from error
    except (httpx2.TransportError, OfflineModeIsEnabled) as error:
        reason = str(error) or type(error).__name__
        raise HubError(_("cannot reach %(endpoint)s (%(reason)s).")
                       % {"endpoint": endpoint, "reason": reason}) from error
    except json.JSONDecodeError as error:
        raise HubError(_("%(endpoint)s does not answer like a Hugging Face Hub.")
                       % {"endpoint": endpoint}) from error


def _is_gguf_model(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.lower().endswith(GGUF_SUFFIX) and not _MMPROJ.search(name[: -len(GGUF_SUFFIX)])


def _split_sets(files: list[RepoFile]) -> list[tuple[RepoFile, ...]]:
    """The files grouped into models: one per whole file, one per complete set of split parts."""
    parts_by_set: defaultdict[tuple[str, int], dict[int, RepoFile]] = defaultdict(dict)
    for file in files:
        stem = file.path[: -len(GGUF_SUFFIX)]
        split = _SPLIT.search(stem)
        if split:
            parts_by_set[(stem[: split.start()], int(split[2]))][int(split[1])] = file
        else:
            parts_by_set[(stem, 1)][1] = file
    sets = []
    for (stem, count), parts in parts_by_set.items():
        if sorted(parts) != list(range(1, count + 1)):
            logger.info("%s: %d of %d split parts listed, left out", stem, len(parts), count)
            continue
        sets.append(tuple(parts[index] for index in sorted(parts)))
    return sets


def _choice_make(parts: tuple[RepoFile, ...], repo_id: str) -> GGUFChoice:
    try:
        name = model_name_parse(parts[0].path, repo_id)
        quant, suggested_name = name.quant, name.ollama_name
    except ValueError:
        # A name without a readable family can still be pulled; the admin renames it.
        quant, suggested_name = None, _file_stem(parts[0].path).lower()
    return GGUFChoice(
        files=parts,
        size=sum(part.size for part in parts),
        quant=quant,
        suggested_name=suggested_name,
    )


def _file_stem(path: str) -> str:
    stem = path.rsplit("/", 1)[-1][: -len(GGUF_SUFFIX)]
    split = _SPLIT.search(stem)
    return stem[: split.start()] if split else stem
