"""What a GGUF file says about its model, read from its header with the `gguf` package.

The tensors are memory-mapped, never loaded. `gguf` imports numpy, so this module is for
workers and the launcher, not for the web process (DESIGN.md invariant 7).
"""
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

GGUF_MAGIC = b"GGUF"
FIRST_PREFIX_BYTES = 4 * 1024 * 1024  # the header of a 50k-token vocabulary fits in 4 MiB
KV_CACHE_BYTES_PER_VALUE = 2  # llama.cpp's default KV cache type is f16


class GGUFError(ValueError):
    """The file is not a complete, readable GGUF file; the message says why."""


@dataclass(frozen=True)
class GGUFMetadata:
    architecture: str
    name: str
    size_label: str
    context_length: int
    block_count: int
    head_count: int
    head_count_kv: int
    embedding_length: int
    file_type: str
    parameter_count: int
    bits_per_weight: float
    file_size: int
    chat_template: str
    tokenizer_model: str
    vocab_size: int

    def kv_cache_bytes(self, tokens: int) -> int:
        """Memory the K and V caches take for ``tokens`` tokens of context."""
        head_dim = self.embedding_length // max(self.head_count, 1)
        per_token = 2 * self.block_count * self.head_count_kv * head_dim
        return per_token * KV_CACHE_BYTES_PER_VALUE * tokens

    def as_dict(self) -> dict:
        return asdict(self)


def gguf_metadata_read(path: Path) -> GGUFMetadata:
    """Read a GGUF file's header; raise GGUFError for a truncated or malformed file."""
    _check_magic(path)
    stat = path.stat()
    # gguf parses every tensor's entry (2.6 s for the demo model): read a file once per
    # process while its size and modification time stay the same.
    return _read(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=64)
def _read(path_name: str, size: int, mtime_ns: int) -> GGUFMetadata:
    path = Path(path_name)
    try:
        from gguf import GGUFReader

        reader = GGUFReader(path)
    except Exception as error:  # gguf's own errors say little ("cannot reshape array...")
        raise GGUFError(f"{path.name} is not a complete GGUF file: truncated or malformed "
                        f"({error})") from None
    return _checked_metadata(reader, path, path.stat().st_size)


def _checked_metadata(reader, path: Path, file_size: int) -> GGUFMetadata:
    _check_tensors_fit(reader, path, file_size)
    return _metadata(reader, file_size)


def _check_tensors_fit(reader, path: Path, file_size: int) -> None:
    end_of_data = max((int(t.data_offset) + int(t.n_bytes) for t in reader.tensors), default=0)
    if not reader.tensors or end_of_data > file_size:
        raise GGUFError(f"{path.name} is truncated: its tensors end at byte {end_of_data}, "
                        f"the file has {file_size}")


def gguf_metadata_from_prefix(read_prefix: Callable[[int], bytes], *, file_size: int,
                              name: str) -> GGUFMetadata:
    """The metadata of a file not yet downloaded, from its first bytes (HTTP Range).

    The prefix is written into a sparse file of the full size, so gguf parses the header
    and never touches the tensor data, which is not there. A prefix that ends inside the
    header makes the parse run past it (zeros read as empty fields): then a longer one is
    fetched, up to the whole file.
    """
    length = FIRST_PREFIX_BYTES
    while True:
        prefix = read_prefix(min(length, file_size))
        if prefix[:4] != GGUF_MAGIC:
            raise GGUFError(f"{name} is not a GGUF file (it does not start with 'GGUF')")
        reader, header_end = _read_sparse(prefix, file_size, name)
        if header_end is not None and header_end <= len(prefix):
            return _checked_metadata(reader, Path(name), file_size)
        if len(prefix) >= file_size:
            raise GGUFError(f"{name} is not a complete GGUF file (its header does not parse)")
        length = max(length * 4, (header_end or 0) + FIRST_PREFIX_BYTES)


def _read_sparse(prefix: bytes, file_size: int, name: str):
    from gguf import GGUFReader

    with tempfile.TemporaryDirectory(prefix="llmhub-gguf-") as folder:
        path = Path(folder) / name
        with path.open("wb") as handle:
            handle.write(prefix)
            handle.truncate(file_size)
        try:
            reader = GGUFReader(path)
        except Exception:  # the prefix ended inside the header
            return None, None
        return reader, int(reader.data_offset)


def _check_magic(path: Path) -> None:
    if not path.is_file():
        raise GGUFError(f"{path} does not exist or is not a file")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF file (it does not start with 'GGUF')")


def _metadata(reader, file_size: int) -> GGUFMetadata:
    from gguf import LlamaFileType

    def value(key: str, default=None):
        field = reader.fields.get(key)
        return field.contents() if field is not None else default

    arch = value("general.architecture")
    if not arch:
        raise GGUFError("the file names no architecture (general.architecture)")
    parameters = sum(int(t.n_elements) for t in reader.tensors)
    tensor_bytes = sum(int(t.n_bytes) for t in reader.tensors)
    file_type = value("general.file_type")
    return GGUFMetadata(
        architecture=arch,
        name=value("general.name", ""),
        size_label=value("general.size_label", ""),
        context_length=int(value(f"{arch}.context_length", 0)),
        block_count=int(value(f"{arch}.block_count", 0)),
        head_count=int(value(f"{arch}.attention.head_count", 0)),
        head_count_kv=int(value(f"{arch}.attention.head_count_kv",
                                value(f"{arch}.attention.head_count", 0))),
        embedding_length=int(value(f"{arch}.embedding_length", 0)),
        file_type=LlamaFileType(file_type).name.removeprefix("MOSTLY_") if file_type is not None
        else "",
        parameter_count=parameters,
        bits_per_weight=round(tensor_bytes * 8 / parameters, 2) if parameters else 0.0,
        file_size=file_size,
        chat_template=value("tokenizer.chat_template", ""),
        tokenizer_model=value("tokenizer.ggml.model", ""),
        vocab_size=len(reader.fields["tokenizer.ggml.tokens"].data)
        if "tokenizer.ggml.tokens" in reader.fields else 0,
    )
