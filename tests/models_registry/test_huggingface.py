"""The admin's view of a Hugging Face repo, against the local Hub of tests/hf_hub_server.py."""
import hashlib
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from models_registry.huggingface import (
    HubError,
    hf_file_url,
    hf_gguf_choices,
    hf_headers,
)
from tests.hf_hub_server import HubServer

REPO = "acme/Foo-7B-Instruct-GGUF"
KB = 1000


def repo_write(folder, sizes: dict[str, int]) -> dict:
    """Random files of those sizes under folder, as the HubServer's {path: local path}."""
    files = {}
    for name, size in sizes.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        files[name] = path
    return files


@pytest.fixture
def foo_files(tmp_path):
    return repo_write(tmp_path / "foo", {
        "Foo-7B-Instruct-Q6_K.gguf": 250 * KB,
        "Foo-7B-Instruct-Q4_K_M.gguf": 150 * KB,
        "Foo-7B-Instruct-Q5_K_M.gguf": 200 * KB,
        "Foo-7B-Instruct-Q8_0/Foo-7B-Instruct-Q8_0-00002-of-00002.gguf": 100 * KB,
        "Foo-7B-Instruct-Q8_0/Foo-7B-Instruct-Q8_0-00001-of-00002.gguf": 200 * KB,
        "mmproj-Foo-7B-Instruct-F16.gguf": 60 * KB,
        "README.md": 2 * KB,
    })


@pytest.fixture
def hub(foo_files, tmp_path, settings):
    readme_only = repo_write(tmp_path / "bar", {"README.md": KB, "model.safetensors": 50 * KB})
    with HubServer({REPO: foo_files, "acme/Bar-1B": readme_only}) as server:
        settings.HF_ENDPOINT = server.url
        settings.HF_TOKEN = ""
        yield server


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_it_offers_each_quantization_once_smallest_first(hub, foo_files):
    choices = hf_gguf_choices(REPO)

    assert [c.quant for c in choices] == ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"]
    assert [c.size for c in choices] == [150 * KB, 200 * KB, 250 * KB, 300 * KB]
    assert [c.suggested_name for c in choices] == [
        "foo:7b-instruct-q4_k_m",
        "foo:7b-instruct-q5_k_m",
        "foo:7b-instruct-q6_k",
        "foo:7b-instruct-q8_0",
    ]
    assert choices[0].label == "Q4_K_M, 150.0 kB"
    assert choices[0].files[0].sha256 == sha256(foo_files["Foo-7B-Instruct-Q4_K_M.gguf"])


def test_it_gives_split_parts_in_order(hub, foo_files):
    split = hf_gguf_choices(REPO)[-1]

    assert [part.path for part in split.files] == [
        "Foo-7B-Instruct-Q8_0/Foo-7B-Instruct-Q8_0-00001-of-00002.gguf",
        "Foo-7B-Instruct-Q8_0/Foo-7B-Instruct-Q8_0-00002-of-00002.gguf",
    ]
    assert [part.size for part in split.files] == [200 * KB, 100 * KB]
    assert [part.sha256 for part in split.files] == [
        sha256(foo_files[part.path]) for part in split.files
    ]
    assert split.label == "Q8_0, 300.0 kB, 2 parts"


def test_it_leaves_out_an_incomplete_split_set(tmp_path, settings):
    files = repo_write(tmp_path / "baz", {
        "Baz-3B-Q4_K_M.gguf": 10 * KB,
        "Baz-3B-F16-00001-of-00003.gguf": 30 * KB,
        "Baz-3B-F16-00003-of-00003.gguf": 30 * KB,
    })
    with HubServer({"acme/Baz-3B-GGUF": files}) as server:
        settings.HF_ENDPOINT = server.url

        choices = hf_gguf_choices("acme/Baz-3B-GGUF")

    assert [c.quant for c in choices] == ["Q4_K_M"]


def test_a_file_name_without_family_still_makes_a_choice(tmp_path, settings):
    files = repo_write(tmp_path / "gguf", {"Q4_K_M.gguf": 10 * KB})
    with HubServer({"acme/GGUF": files}) as server:
        settings.HF_ENDPOINT = server.url

        [choice] = hf_gguf_choices("acme/GGUF")

    assert choice.quant is None
    assert choice.suggested_name == "q4_k_m"


def test_an_unknown_repo_is_a_hub_error(hub):
    with pytest.raises(HubError, match=f"no repository 'acme/nothing' on {hub.url}"):
        hf_gguf_choices("acme/nothing")


def test_an_unknown_revision_is_a_hub_error(hub):
    with pytest.raises(HubError, match="has no revision 'v9'"):
        hf_gguf_choices(REPO, revision="v9")


def test_a_repo_without_gguf_is_a_hub_error(hub):
    with pytest.raises(HubError, match="acme/Bar-1B has no GGUF file"):
        hf_gguf_choices("acme/Bar-1B")


@pytest.mark.parametrize(
    "repo_id",
    ["", "Foo-7B-GGUF", "acme/Foo/GGUF", "acme/Foo 7B", "../etc", "acme/-Foo", "acme--x/Foo",
     "https://huggingface.co/acme/Foo", "acme/Fo\u00f6"],
)
def test_a_malformed_repo_id_is_refused_before_any_request(hub, repo_id):
    hub.stop()  # a request would read "cannot reach"

    with pytest.raises(HubError, match="is not a Hugging Face repo id"):
        hf_gguf_choices(repo_id)


def test_a_hub_that_is_down_is_a_hub_error_at_once(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.HF_ENDPOINT = f"http://127.0.0.1:{closed_port}"
    started = time.monotonic()

    with pytest.raises(HubError, match=f"cannot reach http://127.0.0.1:{closed_port}"):
        hf_gguf_choices(REPO)

    assert time.monotonic() - started < 5  # no back-off retries on the admin's page


def test_the_token_reaches_the_server(hub, settings):
    settings.HF_TOKEN = "hf_llmhub_secret"

    hf_gguf_choices(REPO)

    assert hub.last_authorization == "Bearer hf_llmhub_secret"
    assert hf_headers()["authorization"] == "Bearer hf_llmhub_secret"


def test_a_file_url_downloads_the_file_with_the_headers(hub, foo_files, settings):
    settings.HF_TOKEN = "hf_llmhub_secret"
    path = "Foo-7B-Instruct-Q8_0/Foo-7B-Instruct-Q8_0-00001-of-00002.gguf"

    url = hf_file_url(REPO, path)
    response = httpx.get(url, headers=hf_headers())

    assert url == f"{hub.url}/{REPO}/resolve/main/{path}"
    assert response.content == foo_files[path].read_bytes()
    assert hub.last_authorization == "Bearer hf_llmhub_secret"


def test_the_web_process_path_imports_neither_numpy_nor_gguf():
    code = (
        "import sys, django; django.setup()\n"
        "from models_registry.huggingface import hf_api, hf_file_url, hf_headers\n"
        "hf_api(); hf_headers(); hf_file_url('acme/Foo-GGUF', 'Foo-Q4_K_M.gguf')\n"
        "print(sorted({'numpy', 'gguf'} & set(sys.modules)))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
