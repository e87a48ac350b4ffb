import pytest
from django.core.exceptions import ValidationError

from models_registry.demo import DEMO_MODEL_NAME, demo_model_path
from models_registry.models import Model, model_queue_name
from models_registry.services import model_register_local_file


@pytest.mark.django_db
def test_the_demo_model_registers_as_a_local_file():
    model = model_register_local_file(name=DEMO_MODEL_NAME, path=demo_model_path())
    assert model.backend == "llamacpp" and model.source_kind == "local_file"
    assert model.file_size == demo_model_path().stat().st_size > 90_000_000
    assert model_queue_name(model.name) == f"model.{DEMO_MODEL_NAME}"


@pytest.mark.django_db
def test_registering_again_refreshes_the_file_and_keeps_what_the_admin_tuned():
    model = model_register_local_file(name="m", path=demo_model_path(), context_length=1024)
    Model.objects.filter(pk=model.pk).update(context_length=8192, file_size=1)
    model_register_local_file(name="m", path=demo_model_path(), context_length=2048)
    model.refresh_from_db()
    assert (model.context_length, model.file_size) == (8192, demo_model_path().stat().st_size)
    assert Model.objects.count() == 1


@pytest.mark.django_db
def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        model_register_local_file(name="m", path=tmp_path / "nope.gguf")
    assert not Model.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"<html>not a model</html>")
    with pytest.raises(ValidationError, match="not a GGUF file"):
        model_register_local_file(name="m", path=fake)
