from dataclasses import replace

from inference.backends import backend_get
from inference.backends.llamacpp import LlamaCppBackend
from inference.types import ModelSpec
from models_registry.demo import demo_model_path


def test_the_backend_is_found_by_name_and_kept_per_process():
    assert isinstance(backend_get("llamacpp"), LlamaCppBackend)
    assert backend_get("llamacpp") is backend_get("llamacpp")


def test_a_model_keeps_its_engine_until_its_settings_change():
    backend = LlamaCppBackend()
    spec = ModelSpec(name="demo", backend="llamacpp", file_path=str(demo_model_path()),
                     context_length=512)
    engine = backend.engine_for(spec)
    assert backend.engine_for(replace(spec)) is engine

    bigger = backend.engine_for(replace(spec, context_length=1024))
    assert bigger is not engine
    engine.thread.join(timeout=30)
    assert not engine.thread.is_alive()  # the old context is freed, not leaked
    bigger.close()


def test_an_unknown_backend_is_a_permanent_error():
    import pytest

    from inference.backends import BackendError

    with pytest.raises(BackendError, match="unknown backend 'gpt-9'") as error:
        backend_get("gpt-9")
    assert error.value.permanent
