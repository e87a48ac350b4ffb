"""Where model files lie on a worker's disk.

A pulled file's path is stored relative to the models directory (LLMHUB_MODELS_DIR), so
boxes that keep their models in different places share one registry row: a Hugging Face
file at ``huggingface/<owner>/<repo>/<path in repo>``, a URL's at
``url/<host>/<hash of the URL>/<file name>``. A path given by an admin stays absolute.
"""
import hashlib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from models_registry.models import Model

PULLED_KINDS = (Model.SourceKind.HUGGINGFACE, Model.SourceKind.URL)


def model_is_pulled(model: Model) -> bool:
    return model.source_kind in PULLED_KINDS


def file_local_path(relative_or_absolute: str) -> Path:
    path = Path(relative_or_absolute)
    return path if path.is_absolute() else settings.MODELS_DIR / path


def model_local_path(model: Model) -> Path:
    """The file llama.cpp opens: the first part of a split model."""
    return file_local_path(model.file_path)


def huggingface_relative_path(repo_id: str, name: str) -> str:
    return _safe_relative("huggingface", repo_id, name)


def url_relative_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValidationError(_("'%(url)s' is not an https URL") % {"url": url})
    name = PurePosixPath(parts.path).name
    if not name.endswith(".gguf"):
        raise ValidationError(_("'%(url)s' does not name a .gguf file") % {"url": url})
    url_hash = hashlib.sha256(url.encode()).hexdigest()[:12]
    return _safe_relative("url", parts.hostname, url_hash, name)


def _safe_relative(*pieces: str) -> str:
    path = PurePosixPath(*pieces)
    if any(part in ("..", "") for part in path.parts) or path.is_absolute():
        raise ValidationError(_("unsafe file path '%(path)s'") % {"path": path})
    return str(path)


def model_relative_paths(model: Model) -> list[str]:
    """Every file of a pulled model (the parts of a split one), relative to MODELS_DIR."""
    if model.source_kind == Model.SourceKind.HUGGINGFACE:
        return [huggingface_relative_path(model.source, part["name"]) for part in model.files]
    if model.source_kind == Model.SourceKind.URL:
        return [model.file_path]
    return []


def models_dir_files() -> list[str]:
    """The complete model files on this box (partial downloads are not listed)."""
    if not settings.MODELS_DIR.is_dir():
        return []
    return sorted(str(path.relative_to(settings.MODELS_DIR))
                  for path in settings.MODELS_DIR.rglob("*.gguf"))


def files_remove(relative_paths: list[str]) -> list[str]:
    """Delete these files with their partial downloads and locks; return what was removed."""
    removed = []
    for relative in relative_paths:
        path = file_local_path(relative)
        for candidate in (path, path.with_name(path.name + ".partial"),
                          path.with_name(path.name + ".lock")):
            if candidate.exists():
                candidate.unlink()
                if candidate == path:
                    removed.append(relative)
        _remove_empty_parents(path.parent)
    return removed


def _remove_empty_parents(folder: Path) -> None:
    while folder != settings.MODELS_DIR and settings.MODELS_DIR in folder.parents:
        try:
            folder.rmdir()
        except OSError:  # not empty
            return
        folder = folder.parent
