"""A conversation's system prompt and settings: the page's form, what the model is asked,
and the context length that leaves the oldest turns out."""
import pytest
from django.test import Client

from chat import services
from chat.models import Message
from chat.prompting import generation_request
from inference.engine import LlamaEngine
from inference.types import GenerationRequest
from models_registry.serving import model_spec

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def conversation(alice, demo_model):
    return services.conversation_create(owner=alice, model=demo_model)


@pytest.fixture
def alice_client(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def settings_url(conversation) -> str:
    return f"/chat/c/{conversation.pk}/settings/"


def queued_reply(conversation) -> Message:
    return services.message_post(conversation=conversation, text="Hello")[1]


def test_a_new_conversation_takes_the_models_defaults(conversation, demo_model):
    request = generation_request(queued_reply(conversation))
    assert (request.temperature, request.max_tokens) == (demo_model.temperature,
                                                         demo_model.max_tokens)
    assert request.seed is None and request.top_p == 0.95
    assert request.context_window == demo_model.context_length
    assert request.messages == [{"role": "user", "content": "Hello"}]


def test_the_page_shows_the_models_defaults_as_placeholders(alice_client, conversation,
                                                             demo_model):
    page = alice_client.get(f"/chat/c/{conversation.pk}/").content.decode()
    assert f'placeholder="{demo_model.max_tokens}"' in page
    assert f'placeholder="{demo_model.context_length}"' in page


def test_saved_settings_and_system_prompt_shape_the_next_reply(alice_client, conversation):
    response = alice_client.post(settings_url(conversation), {
        "system_prompt": "Answer like a pirate.", "temperature": "1.2", "top_p": "0.5",
        "max_tokens": "64", "seed": "42", "context_length": "1024"})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.settings == {"temperature": 1.2, "top_p": 0.5, "max_tokens": 64,
                                     "seed": 42, "context_length": 1024}

    request = generation_request(queued_reply(conversation))
    assert request.messages[0] == {"role": "system", "content": "Answer like a pirate."}
    assert (request.temperature, request.top_p, request.max_tokens, request.seed,
            request.context_window) == (1.2, 0.5, 64, 42, 1024)


def test_emptied_fields_go_back_to_the_models_defaults(alice_client, conversation, demo_model):
    alice_client.post(settings_url(conversation), {"temperature": "1.5", "seed": "7"})
    alice_client.post(settings_url(conversation), {"temperature": "", "seed": ""})
    conversation.refresh_from_db()
    assert conversation.settings == {}
    assert generation_request(queued_reply(conversation)).temperature == demo_model.temperature


@pytest.mark.parametrize("field, value", [
    ("temperature", "-0.1"), ("temperature", "2.5"), ("temperature", "warm"),
    ("top_p", "0"), ("top_p", "1.5"), ("max_tokens", "0"), ("seed", "-1"),
    ("context_length", "100"), ("context_length", "999999"), ("max_tokens", "999999"),
    ("system_prompt", "be\x00nice"), ("temperature", "nan"),
])
def test_a_bad_setting_is_refused_and_nothing_changes(alice_client, conversation, field, value):
    response = alice_client.post(settings_url(conversation), {field: value})
    assert response.status_code == 400
    assert 'class="error"' in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.settings == {} and conversation.system_prompt == ""


def test_bob_cannot_see_or_change_alices_settings(client, bob, conversation):
    client.force_login(bob)
    response = client.post(settings_url(conversation), {"system_prompt": "Leak everything."})
    assert response.status_code == 404
    conversation.refresh_from_db()
    assert conversation.system_prompt == ""


# --- the context length, in the engine --------------------------------------------------
@pytest.fixture(scope="module")
def engine():
    from models_registry.demo import demo_model_path
    from models_registry.models import Model

    spec = model_spec(Model(name="demo", file_path=str(demo_model_path()), context_length=2048))
    engine = LlamaEngine(spec)
    engine.wait_loaded()
    yield engine
    engine.close()


def long_history(turns: int) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": "You are terse."}]
    for number in range(turns):
        messages += [{"role": "user", "content": f"Fact {number}: " + "llamas hum. " * 20},
                     {"role": "assistant", "content": "Noted. " * 10}]
    return messages + [{"role": "user", "content": "Say ok."}]


def test_a_context_length_leaves_the_oldest_turns_out(engine):
    history = long_history(12)
    whole = len(engine.prompt_tokens(history))
    request = GenerationRequest(model=engine.spec, messages=history, max_tokens=8,
                                temperature=0.0, context_window=512)
    events = list(engine.generate(request))
    completion = events[-1]
    assert whole > 1000
    # The prompt fits in the window less room for the reply, and still ends with the
    # last question and starts with the system prompt.
    assert completion.prompt_tokens <= 512 - 8
    assert completion.prompt_tokens > 200
    assert completion.completion_tokens >= 1


def test_without_a_context_length_the_same_history_is_kept_whole(engine):
    history = long_history(12)
    request = GenerationRequest(model=engine.spec, messages=history, max_tokens=4,
                                temperature=0.0)
    completion = list(engine.generate(request))[-1]
    assert completion.prompt_tokens == len(engine.prompt_tokens(history))
