"""llama.cpp's own ``llama-server``, built from the sources vendored in llama-cpp-python.

The binary is built only when asked (``python -m bench.engine --with-llama-server``, or
``python -m bench.llama_server`` to build alone): the llama-cpp-python sdist is fetched with
pip, its ``vendor/llama.cpp`` is configured with cmake in a temporary folder, and only the
``llama-server`` target is built. The result is cached under ``data/bench/`` (gitignored)
and used by the benchmark whenever it is there.

Built from the same llama.cpp revision as the Python binding, so the comparison is about
the serving loop, not about the kernels.
"""
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

LLAMA_CPP_PYTHON_VERSION = "0.3.36"
CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "bench"
BINARY = CACHE_DIR / f"llama-server-{LLAMA_CPP_PYTHON_VERSION}" / "llama-server"

# GGML_NATIVE=ON builds crashed with "Illegal instruction" on these machines (FACTS.md):
# the CPU advertises AMX. Name the instruction sets instead.
CMAKE_OPTIONS = [
    "-DCMAKE_BUILD_TYPE=Release",
    "-DGGML_NATIVE=OFF", "-DGGML_AVX2=ON", "-DGGML_FMA=ON", "-DGGML_F16C=ON",
    "-DLLAMA_CURL=OFF", "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
]


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cached_binary() -> Path | None:
    return BINARY if BINARY.is_file() and os.access(BINARY, os.X_OK) else None


def fetch_sources(workdir: Path) -> Path:
    """Download the sdist with pip and unpack it; return its vendored llama.cpp folder."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
         "--no-binary", ":all:", f"llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}",
         "-d", str(workdir)],
        check=True,
    )
    archive = next(workdir.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(archive) as sdist:
        sdist.extractall(workdir, filter="data")
    return next(workdir.glob("llama_cpp_python-*")) / "vendor" / "llama.cpp"


def build(*, jobs: int | None = None) -> Path:
    """Build llama-server (minutes on 2 cores) and cache it; return the binary's path."""
    if found := cached_binary():
        return found
    workdir = Path(tempfile.mkdtemp(prefix="llama-server-build-"))
    try:
        progress("llama-server: fetching the llama-cpp-python sdist")
        source = fetch_sources(workdir)
        build_dir = workdir / "build"
        progress("llama-server: configuring")
        subprocess.run(["cmake", "-S", str(source), "-B", str(build_dir), *CMAKE_OPTIONS],
                       check=True, stdout=subprocess.DEVNULL)
        progress("llama-server: building (several minutes on 2 cores)")
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "llama-server",
                        "-j", str(jobs or os.cpu_count() or 2)],
                       check=True, stdout=subprocess.DEVNULL)
        built = next(build_dir.rglob("llama-server"))
        BINARY.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, BINARY)
        return BINARY
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def command(model_path: Path, port: int, *, parallel: int, n_threads: int,
            context_length: int) -> list[str]:
    return [
        str(BINARY), "--model", str(model_path), "--host", "127.0.0.1", "--port", str(port),
        "-np", str(parallel), "-t", str(n_threads), "-tb", str(n_threads),
        "-c", str(context_length),
        # Off, as in the engine and llama-cpp-python: the same float sums, the same replies.
        "--flash-attn", "off",
    ]


if __name__ == "__main__":
    print(build())
