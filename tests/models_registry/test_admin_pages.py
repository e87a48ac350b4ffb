"""The registry's admin pages: staff add models, place and remove replicas, and see the
cluster; alice, who is not staff, and anonymous visitors get none of it.

Real parts throughout: the Django test client, the database, Redis, and a local Hugging Face
server (tests.hf_hub_server) serving small generated GGUF-named files.
"""
import hashlib
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from llmhub.redis import redis_client
from llmhub.services import demo_model_register
from models_registry.explain import bytes_in_words
from models_registry.models import Model, Node, Placement
from models_registry.placement import placement_memory_needed
from models_registry.pull import pull_progress_key
from tests.hf_hub_server import HubServer

pytestmark = pytest.mark.django_db

REPO = "acme/Foo-7B-Instruct-GGUF"
SMALL = "Foo-7B-Instruct-Q4_K_M.gguf"
SPLIT = ["Q8_0/Foo-7B-Instruct-Q8_0-00001-of-00002.gguf",
         "Q8_0/Foo-7B-Instruct-Q8_0-00002-of-00002.gguf"]
GB = 10**9


@pytest.fixture
def sam(transactional_db):
    """Sam runs the hub: staff, not superuser."""
    return User.objects.create_user("sam", password="sam-password-1", is_staff=True)


@pytest.fixture
def demo():
    return demo_model_register()


@pytest.fixture
def hub_files(tmp_path) -> dict[str, bytes]:
    """Small stand-ins for GGUF files: listing a repo reads names and sizes, not contents."""
    contents = {SMALL: b"GGUF" + b"s" * 3000, SPLIT[0]: b"GGUF" + b"a" * 4000,
                SPLIT[1]: b"b" * 2000}
    for path, content in contents.items():
        local = tmp_path / path
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(content)
    return contents


@pytest.fixture
def hub(settings, tmp_path, hub_files):
    server = HubServer({REPO: {path: tmp_path / path for path in hub_files}}).start()
    settings.HF_ENDPOINT = server.url
    yield server
    server.stop()


def node(name: str, *, ram_gb: float = 8, ready: bool = True, **fields) -> Node:
    seen = timezone.now() - timedelta(seconds=0 if ready else 600)
    return Node.objects.create(name=name, host=name.split("@")[-1], ram_bytes=int(ram_gb * GB),
                               started_at=seen, last_seen=seen, **fields)


def replica(model: Model, on: Node, state: str = Placement.State.READY, **fields) -> Placement:
    return Placement.objects.create(model=model, node=on, slots=2, memory_bytes=GB, state=state,
                                    **fields)


def staff_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_of(response) -> str:
    return response.content.decode()


# --- who gets in --------------------------------------------------------------------------

def admin_requests(model: Model) -> list[tuple[str, str]]:
    return [("get", "/models/add/"), ("post", "/models/add/"), ("get", "/models/cluster/"),
            ("post", f"/models/{model.pk}/deploy/"), ("post", f"/models/{model.pk}/undeploy/"),
            ("post", f"/models/{model.pk}/delete/")]


def test_alice_who_is_not_staff_gets_403_on_every_admin_page_and_post(client, alice, demo):
    box = node("box@lab")
    replica(demo, box)
    client.force_login(alice)
    for method, url in admin_requests(demo):
        data = {"confirmed": "yes", "replicas": 1, "slots": 1} if method == "post" else None
        assert getattr(client, method)(url, data).status_code == 403, (method, url)
    assert Model.objects.filter(pk=demo.pk).exists() and Placement.objects.count() == 1


def test_an_anonymous_visitor_is_sent_to_log_in_from_every_admin_page_and_post(client, demo):
    for method, url in admin_requests(demo):
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, url)
        assert response.url.startswith("/accounts/login/"), (method, url)


def test_alice_sees_the_card_without_the_admin_parts(client, alice, demo):
    client.force_login(alice)
    page = page_of(client.get(f"/models/{demo.pk}/"))
    assert "134.5 million numbers" in page
    assert "Deploy" not in page and "Undeploy" not in page and "/ws/cluster/" not in page
    listing = page_of(client.get("/models/"))
    assert "Add a model" not in listing and "Nodes and replicas" not in listing


def test_staff_find_the_admin_pages_from_the_model_list(sam):
    listing = page_of(staff_client(sam).get("/models/"))
    assert 'href="/models/add/">Add a model' in listing
    assert 'href="/models/cluster/">Nodes and replicas' in listing


def test_the_admin_actions_are_post_only(sam, demo):
    client = staff_client(sam)
    for action in ("deploy", "undeploy", "delete"):
        assert client.get(f"/models/{demo.pk}/{action}/").status_code == 405
    assert Model.objects.filter(pk=demo.pk).exists()


def test_the_admin_actions_need_the_csrf_token(sam, demo):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sam)
    response = client.post(f"/models/{demo.pk}/delete/", {"confirmed": "yes"})
    assert response.status_code == 403
    assert Model.objects.filter(pk=demo.pk).exists()


# --- adding a model -----------------------------------------------------------------------

def test_a_repo_lists_its_gguf_choices_smallest_first(sam, hub, hub_files):
    response = staff_client(sam).post("/models/add/", {"kind": "huggingface", "repo_id": REPO,
                                                      "revision": ""})
    page = page_of(response)
    assert response.status_code == 200
    assert f"GGUF models in {REPO} <small>at main</small>" in page
    assert page.index("Q4_K_M, 3.0 kB") < page.index("Q8_0, 6.0 kB, 2 parts")
    assert 'name="first_path" value="Foo-7B-Instruct-Q4_K_M.gguf"' in page
    assert f'name="first_path" value="{SPLIT[0]}"' in page
    assert 'value="foo:7b-instruct-q4_k_m"' in page  # the suggested, editable name
    assert not Model.objects.exists()


def test_adding_a_choice_registers_its_files_and_opens_its_card(sam, hub, hub_files):
    response = staff_client(sam).post("/models/add/", {
        "step": "choice", "repo_id": REPO, "revision": "main", "first_path": SPLIT[0],
        "name": "foo:7b-big"})
    model = Model.objects.get()
    assert response.status_code == 302 and response.url == f"/models/{model.pk}/"
    assert (model.name, model.source_kind, model.source, model.revision) == (
        "foo:7b-big", Model.SourceKind.HUGGINGFACE, REPO, "main")
    assert model.files == [
        {"name": path, "size": len(hub_files[path]),
         "sha256": hashlib.sha256(hub_files[path]).hexdigest()} for path in SPLIT]
    assert model.file_size == 6004
    assert model.file_path == f"huggingface/{REPO}/{SPLIT[0]}"


def test_an_empty_name_takes_the_suggested_one(sam, hub):
    staff_client(sam).post("/models/add/", {"step": "choice", "repo_id": REPO,
                                            "revision": "main", "first_path": SMALL, "name": ""})
    assert Model.objects.get().name == "foo:7b-instruct-q4_k_m"


def test_a_name_in_use_is_refused_and_the_choices_stay_listed(sam, hub, demo):
    response = staff_client(sam).post("/models/add/", {
        "step": "choice", "repo_id": REPO, "revision": "main", "first_path": SMALL,
        "name": demo.name})
    page = page_of(response)
    assert response.status_code == 400
    assert f"Not added: a model named &#x27;{demo.name}&#x27; exists already" in page
    assert f'name="first_path" value="{SMALL}"' in page
    assert list(Model.objects.all()) == [demo]


def test_a_choice_the_repo_no_longer_offers_is_refused(sam, hub):
    response = staff_client(sam).post("/models/add/", {
        "step": "choice", "repo_id": REPO, "revision": "main", "first_path": "gone.gguf"})
    assert response.status_code == 400
    assert "Not added: the repo no longer offers gone.gguf" in page_of(response)
    assert not Model.objects.exists()


@pytest.mark.parametrize(("fields", "error"), [
    ({"kind": "huggingface", "repo_id": "not a repo"},
     "Hugging Face: &#x27;not a repo&#x27; is not a Hugging Face repo id"),
    ({"kind": "huggingface", "repo_id": "acme/unknown-GGUF"},
     "Hugging Face: no repository &#x27;acme/unknown-GGUF&#x27; on http://127.0.0.1:"),
    ({"kind": "huggingface", "repo_id": REPO, "revision": "v9"},
     f"Hugging Face: {REPO} on http://127.0.0.1:"),
    ({"kind": "url", "url": "http://example.com/Foo-7B-Q4_K_M.gguf"},
     "Not added: &#x27;http://example.com/Foo-7B-Q4_K_M.gguf&#x27; is not an https URL"),
    ({"kind": "url", "url": "https://example.com/Foo-7B-Q4_K_M.gguf", "sha256": "abc"},
     "Not added: a sha256 is 64 hexadecimal digits"),
    ({"kind": "local_file", "path": "models/Foo-7B-Q4_K_M.gguf"},
     "Not added: &#x27;models/Foo-7B-Q4_K_M.gguf&#x27; is not an absolute path to a .gguf file"),
    ({"kind": "url", "url": ""}, "Needed for this kind of source."),
    ({"kind": "ftp"}, "Select a valid choice."),
])
def test_a_bad_source_shows_why_and_creates_nothing(sam, hub, fields, error):
    response = staff_client(sam).post("/models/add/", fields)
    assert response.status_code == 400
    assert error in page_of(response)
    assert not Model.objects.exists()


def test_an_https_url_registers_with_its_sha256_and_opens_its_card(sam):
    sha256 = "ab" * 32
    response = staff_client(sam).post("/models/add/", {
        "kind": "url", "url": "https://files.example.com/Foo-7B-Instruct-Q4_K_M.gguf",
        "sha256": sha256.upper()})
    model = Model.objects.get()
    assert response.url == f"/models/{model.pk}/"
    assert model.name == "foo:7b-instruct-q4_k_m" and model.source_kind == Model.SourceKind.URL
    assert model.files == [{"name": "Foo-7B-Instruct-Q4_K_M.gguf", "size": 0, "sha256": sha256}]


def test_an_absolute_path_registers_under_the_name_given(sam):
    response = staff_client(sam).post("/models/add/", {
        "kind": "local_file", "path": "/srv/models/Foo-7B-Instruct-Q4_K_M.gguf",
        "name": "foo:local"})
    model = Model.objects.get()
    assert response.url == f"/models/{model.pk}/"
    assert (model.name, model.file_path) == ("foo:local", "/srv/models/Foo-7B-Instruct-Q4_K_M.gguf")


def test_a_path_whose_file_name_says_no_family_asks_for_a_name(sam):
    response = staff_client(sam).post("/models/add/", {
        "kind": "local_file", "path": "/srv/models/ggml-model-Q4_K_M.gguf"})
    assert response.status_code == 400
    assert "does not say which model it is: give it a name" in page_of(response)
    assert not Model.objects.exists()


# --- the card: header, deploy, undeploy, delete ---------------------------------------------

def test_staff_see_the_deploy_form_with_the_models_slots(sam, demo):
    page = page_of(staff_client(sam).get(f"/models/{demo.pk}/"))
    assert f'action="/models/{demo.pk}/deploy/"' in page
    assert 'name="replicas" value="1"' in page and f'name="slots" value="{demo.slots}"' in page
    assert f'action="/models/{demo.pk}/undeploy/"' in page
    assert f'action="/models/{demo.pk}/delete/"' in page


def test_the_card_says_the_header_is_being_read_or_why_it_could_not_be(sam):
    model = Model.objects.create(name="foo:url", source="https://x.example/foo.gguf",
                                 file_path="url/x/foo.gguf")
    client = staff_client(sam)
    assert "Reading the file header…" in page_of(client.get(f"/models/{model.pk}/"))
    model.error = "https://x.example/foo.gguf answered 404"
    model.save()
    page = page_of(client.get(f"/models/{model.pk}/"))
    assert "Its file header could not be read: https://x.example/foo.gguf answered 404" in page


def test_deploy_with_no_ready_node_shows_the_refusal_and_places_nothing(sam, demo):
    node("gone@lab", ready=False)
    response = staff_client(sam).post(f"/models/{demo.pk}/deploy/", {"replicas": 1, "slots": 2})
    assert response.status_code == 400
    needed = bytes_in_words(placement_memory_needed(model=demo, slots=2))
    refusal = f"Not deployed: {demo.name} needs {needed}; no ready node without it"
    assert refusal in page_of(response)
    assert not Placement.objects.exists()


def test_deploy_refuses_zero_slots(sam, demo):
    node("box@lab")
    response = staff_client(sam).post(f"/models/{demo.pk}/deploy/", {"replicas": 1, "slots": 0})
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 1." in page_of(response)
    assert not Placement.objects.exists()


def test_deploy_places_a_replica_on_a_ready_node_and_the_card_lists_it(sam, demo):
    node("box@lab", ram_gb=8)
    client = staff_client(sam)
    response = client.post(f"/models/{demo.pk}/deploy/", {"replicas": 1, "slots": 2})
    assert response.status_code == 302 and response.url == f"/models/{demo.pk}/"
    placed = Placement.objects.get()
    assert (placed.model, placed.node.name, placed.slots) == (demo, "box@lab", 2)
    page = page_of(client.get(response.url))
    assert f'<tr data-id="{placed.pk}" data-state="pending">' in page
    assert "<td>box@lab</td>" in page and "Waiting for the node" in page


def test_undeploy_removes_every_replica_and_keeps_the_model(sam, demo):
    replica(demo, node("a@lab"))
    replica(demo, node("b@lab"))
    response = staff_client(sam).post(f"/models/{demo.pk}/undeploy/")
    assert response.status_code == 302 and response.url == f"/models/{demo.pk}/"
    assert not Placement.objects.exists() and Model.objects.filter(pk=demo.pk).exists()


def test_delete_asks_first_then_deletes_the_model_and_its_replicas(sam, demo):
    replica(demo, node("a@lab"))
    client = staff_client(sam)
    asked = client.post(f"/models/{demo.pk}/delete/")
    assert asked.status_code == 200 and f"Delete {demo.name}?" in page_of(asked)
    assert Model.objects.filter(pk=demo.pk).exists()
    response = client.post(f"/models/{demo.pk}/delete/", {"confirmed": "yes"})
    assert response.status_code == 302 and response.url == "/models/"
    assert not Model.objects.filter(pk=demo.pk).exists() and not Placement.objects.exists()


def test_a_model_in_conversations_is_kept_with_its_replicas(sam, alice, demo):
    from chat.services import conversation_create

    conversation_create(owner=alice, model=demo)
    placed = replica(demo, node("a@lab"))
    response = staff_client(sam).post(f"/models/{demo.pk}/delete/", {"confirmed": "yes"})
    assert response.status_code == 409
    assert f"Conversations use {demo.name}, so it stays" in page_of(response)
    assert Placement.objects.filter(pk=placed.pk).exists()


# --- the cluster page -------------------------------------------------------------------------

@pytest.fixture
def pulling(demo):
    """A replica half-way through its download, as a worker reports it."""
    box = node("gpu-box@lab", cpu_count=16, disk_free_bytes=500 * GB, task_slots=4,
               active_tasks=1, model_names=[demo.name],
               gpus=[{"name": "NVIDIA L4", "memory_total": 24 * GB, "memory_free": 20 * GB}])
    placed = replica(demo, box, state=Placement.State.PULLING)
    key = pull_progress_key(placed.pk)
    redis_client().hset(key, mapping={"done": 40_000_000, "total": 100_000_000,
                                      "rate": 5_000_000, "eta": 12.0, "updated": time.time()})
    yield placed
    redis_client().delete(key)


def test_the_cluster_page_shows_nodes_and_replicas_with_their_pull(sam, demo, pulling):
    node("old@attic", ready=False, accepts_placements=False)
    page = page_of(staff_client(sam).get("/models/cluster/"))
    for text in ("<th scope=\"row\">gpu-box@lab</th>", "<td>lab</td>", ">16<",
                 "NVIDIA L4: 20.0 GB free of 24.0 GB", "500.0 GB", demo.name, ">1 / 4<",
                 "23.0 GB of 24.0 GB",  # the replica claims 1 GB of the GPU's 24
                 '<span class="pill ready">ready</span>',
                 '<span class="pill not-ready">not ready</span>',
                 "pinned: takes no new replicas"):
        assert text in page, text
    assert f'<a href="/models/{demo.pk}/">{demo.name}</a>' in page
    assert '<progress value="40000000" max="100000000">' in page
    assert "40.0 MB of 100.0 MB · 5.0 MB/s · 12 s left" in page
    assert 'src="/static/models_registry/cluster.js"' in page


def test_a_failed_replica_shows_its_error(sam, demo):
    replica(demo, node("a@lab"), state=Placement.State.FAILED, error="sha256 mismatch")
    page = page_of(staff_client(sam).get("/models/cluster/"))
    assert "Failed" in page and '<p class="error">sha256 mismatch</p>' in page


def test_a_remote_model_is_added_with_the_name_of_its_key_variable_never_a_key(sam):
    response = staff_client(sam).post("/models/add/", {
        "kind": "remote", "backend": "openrouter", "base_url": "https://openrouter.ai/api/v1",
        "remote_name": "mistralai/mistral-nemo", "api_key_env": "OPENROUTER_API_KEY",
        "name": "mistral-nemo:cloud"})
    model = Model.objects.get()
    assert response.status_code == 302
    assert (model.name, model.backend, model.base_url, model.remote_name, model.api_key_env) == (
        "mistral-nemo:cloud", "openrouter", "https://openrouter.ai/api/v1",
        "mistralai/mistral-nemo", "OPENROUTER_API_KEY")


def test_a_key_pasted_where_its_variable_name_goes_is_refused(sam):
    response = staff_client(sam).post("/models/add/", {
        "kind": "remote", "backend": "openai", "base_url": "https://api.openai.com/v1",
        "remote_name": "gpt-4o-mini", "api_key_env": "sk-proj-abc123-secret"})
    assert response.status_code == 400
    assert "not an environment variable name" in page_of(response)
    assert not Model.objects.exists()


def test_a_remote_models_card_says_where_it_runs(sam):
    from models_registry.services import model_register_remote

    model = model_register_remote(name="gpt:cloud", backend="openai",
                                  base_url="https://api.openai.com/v1", remote_name="gpt-4o-mini")
    response = staff_client(sam).get(f"/models/{model.pk}/")
    assert response.status_code == 200
    assert "https://api.openai.com/v1" in page_of(response)
