"""Writes to the registry."""
from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from models_registry.files import huggingface_relative_path, url_relative_path
from models_registry.gguf_metadata import GGUFError, gguf_metadata_read
from models_registry.models import Model
from models_registry.naming import model_name_parse

if TYPE_CHECKING:
    from models_registry.huggingface import GGUFChoice


def model_register_local_file(*, name: str, path: Path, context_length: int = 4096) -> Model:
    """Register a model whose GGUF file already lies on the workers' disk, or refresh its
    file; settings an admin may have tuned since (context length...) are kept.

    The header is read first: a truncated or malformed file is refused with the reason.
    """
    try:
        metadata = gguf_metadata_read(path)
    except GGUFError as error:
        raise ValidationError(str(error)) from None
    file_fields = {
        "backend": Model.Backend.LLAMACPP,
        "source_kind": Model.SourceKind.LOCAL_FILE,
        "source": str(path),
        "file_path": str(path),
        "file_size": metadata.file_size,
        "metadata": metadata.as_dict(),
    }
    model, _ = Model.objects.update_or_create(
        name=name,
        defaults=file_fields,
        create_defaults=file_fields | {"context_length": context_length},
    )
    return model


def model_register_huggingface(*, repo_id: str, choice: GGUFChoice, revision: str = "main",
                               name: str = "") -> Model:
    """Register one GGUF file (or split set) of a Hugging Face repo, to be pulled where it
    is placed. Its header is read from the Hub by a worker right after (placement needs
    it); the name defaults to the one parsed from the file and repo names."""
    name = name.strip() or choice.suggested_name
    first = choice.files[0].path
    model = _model_create(
        name=name,
        source_kind=Model.SourceKind.HUGGINGFACE,
        source=repo_id,
        revision=revision,
        files=[{"name": part.path, "size": part.size, "sha256": part.sha256}
               for part in choice.files],
        file_path=huggingface_relative_path(repo_id, first),
        file_size=choice.size,
    )
    return model


def model_register_path(*, path: str, name: str = "") -> Model:
    """Register a GGUF file that lies at ``path`` on the nodes' disks (the web process may
    not see it: a worker reads its header)."""
    if not Path(path).is_absolute() or not path.endswith(".gguf"):
        raise ValidationError(_("'%(path)s' is not an absolute path to a .gguf file")
                              % {"path": path})
    name = name.strip() or _parsed_name(Path(path).name)
    return _model_create(name=name, source_kind=Model.SourceKind.LOCAL_FILE, source=path,
                         file_path=path)


REMOTE_BACKENDS = (Model.Backend.OPENAI, Model.Backend.OPENROUTER, Model.Backend.OLLAMA)


def model_register_remote(*, name: str, backend: str, base_url: str, remote_name: str = "",
                          api_key_env: str = "", context_length: int = 8192) -> Model:
    """Register a model served by a remote OpenAI-compatible, OpenRouter or Ollama server.
    Its key stays in the workers' environment, named by ``api_key_env``, never here."""
    if backend not in REMOTE_BACKENDS:
        raise ValidationError(_("'%(backend)s' is not a remote backend") % {"backend": backend})
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", base_url):
        raise ValidationError(_("'%(url)s' is not an http(s) URL") % {"url": base_url})
    if api_key_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", api_key_env):
        raise ValidationError(_("'%(name)s' is not an environment variable name (give the "
                                "variable's name, not the key)") % {"name": api_key_env})
    model = Model.objects.create(
        name=_name_checked(name), backend=backend, source_kind=Model.SourceKind.REMOTE,
        source=base_url, base_url=base_url.rstrip("/"), remote_name=remote_name or name,
        api_key_env=api_key_env, context_length=context_length)
    return model


def _name_checked(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValidationError(_("the model needs a name"))
    if Model.objects.filter(name=name).exists():
        raise ValidationError(_("a model named '%(name)s' exists already") % {"name": name})
    return name


def model_register_url(*, url: str, name: str = "", sha256: str = "") -> Model:
    """Register a GGUF file served at an https URL. Plain web servers publish no checksum:
    give ``sha256`` to have the pull check it."""
    relative = url_relative_path(url)
    sha256 = sha256.strip().lower()
    if sha256 and not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValidationError(_("a sha256 is 64 hexadecimal digits"))
    file_name = PurePosixPath(relative).name
    name = name.strip() or _parsed_name(file_name)
    return _model_create(name=name, source_kind=Model.SourceKind.URL, source=url,
                         files=[{"name": file_name, "size": 0, "sha256": sha256}],
                         file_path=relative)


def _parsed_name(file_name: str) -> str:
    try:
        return model_name_parse(file_name).ollama_name
    except ValueError:
        raise ValidationError(_("%(file)s does not say which model it is: give it a name")
                              % {"file": file_name}) from None


def _model_create(*, name: str, **fields) -> Model:
    model = Model.objects.create(name=_name_checked(name), backend=Model.Backend.LLAMACPP,
                                 **fields)
    transaction.on_commit(lambda: _header_read_queue(model.pk))
    return model


def _header_read_queue(model_id: int) -> None:
    from models_registry.tasks import model_header_read

    model_header_read.delay(model_id)
