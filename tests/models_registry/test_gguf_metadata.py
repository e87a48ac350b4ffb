"""GGUF headers read with the gguf package: the demo model, and files that must be refused."""
import shutil

import pytest
from django.core.exceptions import ValidationError

from models_registry.demo import demo_model_path
from models_registry.gguf_metadata import GGUFError, gguf_metadata_read
from models_registry.models import Model
from models_registry.services import model_register_local_file


@pytest.fixture(scope="module")
def demo():
    return gguf_metadata_read(demo_model_path())


def test_it_reads_what_the_demo_models_header_says(demo):
    assert (demo.architecture, demo.size_label, demo.file_type) == ("llama", "135M", "Q4_1")
    assert (demo.context_length, demo.block_count, demo.embedding_length) == (8192, 30, 576)
    assert (demo.head_count, demo.head_count_kv, demo.vocab_size) == (9, 3, 49152)
    assert demo.parameter_count == 134_515_008
    assert 5.0 < demo.bits_per_weight < 6.0  # Q4_1 blocks plus a few f32 tensors
    assert demo.tokenizer_model == "gpt2"
    assert "<|im_start|>" in demo.chat_template


def test_the_kv_cache_grows_with_the_context(demo):
    # 2 (K and V) x 30 layers x 3 KV heads x 64 dims x 2 bytes = 23,040 bytes a token.
    assert demo.kv_cache_bytes(1) == 23_040
    assert demo.kv_cache_bytes(8192) == 8192 * 23_040


@pytest.mark.parametrize("fraction", [0.01, 0.5, 0.999])
def test_a_truncated_file_is_refused_with_a_clear_error(tmp_path, fraction):
    size = demo_model_path().stat().st_size
    cut = tmp_path / "cut.gguf"
    with demo_model_path().open("rb") as source, cut.open("wb") as target:
        target.write(source.read(int(size * fraction)))
    with pytest.raises(GGUFError, match="cut.gguf (is not a complete GGUF file|is truncated)"):
        gguf_metadata_read(cut)


def test_a_file_with_the_magic_and_garbage_is_refused(tmp_path):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF" + bytes(range(256)) * 40)
    with pytest.raises(GGUFError, match="garbage.gguf is not a complete GGUF file"):
        gguf_metadata_read(garbage)


@pytest.mark.django_db
def test_registering_a_truncated_file_stores_nothing(tmp_path):
    cut = tmp_path / "half.gguf"
    with demo_model_path().open("rb") as source:
        cut.write_bytes(source.read(1_000_000))
    with pytest.raises(ValidationError, match="half.gguf is not a complete GGUF file"):
        model_register_local_file(name="half", path=cut)
    assert not Model.objects.exists()


@pytest.mark.django_db
def test_registering_keeps_the_header_on_the_model(tmp_path):
    copy = tmp_path / "demo.gguf"
    shutil.copyfile(demo_model_path(), copy)
    model = model_register_local_file(name="demo", path=copy)
    assert model.metadata["file_type"] == "Q4_1"
    assert model.metadata["parameter_count"] == 134_515_008
