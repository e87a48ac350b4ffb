"""Writes to the registry."""
from pathlib import Path

from django.core.exceptions import ValidationError

from models_registry.gguf_metadata import GGUFError, gguf_metadata_read
from models_registry.models import Model


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
