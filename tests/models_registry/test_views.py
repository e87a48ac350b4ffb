"""The model card explains a model in words; only logged-in people see it."""
import pytest

from llmhub.services import demo_model_register

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return demo_model_register()


def test_the_card_explains_the_demo_model(client, alice, demo):
    client.force_login(alice)
    page = client.get(f"/models/{demo.pk}/").content.decode()
    assert "134.5 million numbers learned in training (135M)" in page
    assert "Q4_1, 5.74 bits per weight on average: 4-bit weights; legacy block" in page
    assert "llama: 30 layers, 9 attention heads (3 for keys and values)" in page
    assert "trained for 8,192 tokens; this hub gives each reply 4,096 tokens" in page
    # 98.4 MB of weights + 4 slots x 4,096 tokens x 23,040 bytes of KV cache.
    assert "98.4 MB of weights + 377.5 MB of KV cache for 4 replies at once" in page
    for badge in ("smollm2", "135M", "Q4_1", "instruct"):
        assert f'<span class="badge">{badge}</span>' in page


def test_the_demo_models_name_is_the_one_its_file_name_parses_to(demo):
    from pathlib import Path

    from models_registry.naming import model_name_parse

    assert model_name_parse(Path(demo.file_path).name).ollama_name == demo.name


def test_the_list_links_every_enabled_model(client, alice, demo):
    client.force_login(alice)
    page = client.get("/models/").content.decode()
    assert f'href="/models/{demo.pk}/"' in page and "135M · Q4_1 · llama" in page


def test_a_disabled_or_unknown_model_is_not_found(client, alice, demo):
    client.force_login(alice)
    demo.enabled = False
    demo.save()
    assert client.get(f"/models/{demo.pk}/").status_code == 404
    assert client.get("/models/999999/").status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(client, demo):
    response = client.get(f"/models/{demo.pk}/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
