"""Writes to the registry."""
from pathlib import Path

from django.core.exceptions import ValidationError

from models_registry.models import Model

GGUF_MAGIC = b"GGUF"


def gguf_file_check(path: Path) -> int:
    """Return the file's size, or raise ValidationError if it is not a readable GGUF file."""
    if not path.is_file():
        raise ValidationError(f"{path} does not exist or is not a file")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ValidationError(f"{path} is not a GGUF file (bad magic bytes)")
    return path.stat().st_size


def model_register_local_file(*, name: str, path: Path, context_length: int = 4096) -> Model:
    """Register a model whose GGUF file already lies on the workers' disk, or refresh its
    file; settings an admin may have tuned since (context length...) are kept."""
    file_fields = {
        "backend": Model.Backend.LLAMACPP,
        "source_kind": Model.SourceKind.LOCAL_FILE,
        "source": str(path),
        "file_path": str(path),
        "file_size": gguf_file_check(path),
    }
    model, _ = Model.objects.update_or_create(
        name=name,
        defaults=file_fields,
        create_defaults=file_fields | {"context_length": context_length},
    )
    return model
