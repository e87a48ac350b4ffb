"""Check a GGUF file with llama.cpp's own parser (ggml's gguf C API) before it is used.

The `gguf` Python package builds every metadata field as numpy arrays: 2 s for the
demo model's 49k-token vocabulary, longer than downloading it over a fast link. llama.cpp
parses the same header in milliseconds, and it is the parser that will load the file, so
"llama.cpp reads this header and its tensors fit in the file" is the check that matters.
"""
import ctypes
from functools import cache
from pathlib import Path


class GGUFCheckError(ValueError):
    """The file is not a complete GGUF file; the message says why."""


class _InitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]


@cache
def _ggml_base() -> ctypes.CDLL:
    import llama_cpp

    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    lib.gguf_init_from_file.argtypes = [ctypes.c_char_p, _InitParams]
    lib.gguf_init_from_file.restype = ctypes.c_void_p
    lib.gguf_free.argtypes = [ctypes.c_void_p]
    lib.gguf_get_n_tensors.argtypes = [ctypes.c_void_p]
    lib.gguf_get_n_tensors.restype = ctypes.c_int64
    lib.gguf_get_data_offset.argtypes = [ctypes.c_void_p]
    lib.gguf_get_data_offset.restype = ctypes.c_size_t
    for name in ("gguf_get_tensor_offset", "gguf_get_tensor_size"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int64]
        getattr(lib, name).restype = ctypes.c_size_t
    return lib


def gguf_file_check(path: Path) -> None:
    """Raise GGUFCheckError unless llama.cpp parses the header of ``path`` and every tensor
    it lists lies inside the file. Works on each part of a split model."""
    lib = _ggml_base()
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise GGUFCheckError(f"{path.name} is not a GGUF file (it does not start with 'GGUF')")
    context = lib.gguf_init_from_file(str(path).encode(), _InitParams(True, None))
    if not context:
        raise GGUFCheckError(f"{path.name} is not a complete GGUF file: llama.cpp cannot "
                             "parse its header")
    try:
        count = lib.gguf_get_n_tensors(context)
        end = lib.gguf_get_data_offset(context) + max(
            (lib.gguf_get_tensor_offset(context, i) + lib.gguf_get_tensor_size(context, i)
             for i in range(count)), default=0)
    finally:
        lib.gguf_free(context)
    size = path.stat().st_size
    if count == 0 or end > size:
        raise GGUFCheckError(f"{path.name} is truncated: its tensors end at byte {end}, "
                             f"the file has {size}")
