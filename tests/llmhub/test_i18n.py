"""French and English: the committed catalogs are complete and compiled, a French browser
gets French pages, the switch in the top bar picks a language that sticks, and none of it
changes who may see what.

Real parts: the Django test client, the database, the committed .po/.mo files.
"""
import html
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from llmhub.api.keys import api_key_create
from llmhub.services import demo_model_register

pytestmark = pytest.mark.django_db

CATALOGS = sorted(Path(settings.BASE_DIR, "locale").glob("*/LC_MESSAGES/*.po"))
FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9,en;q=0.5"}


@pytest.fixture
def carol(transactional_db) -> User:
    """Carol runs the hub: staff."""
    return User.objects.create_user("carol", password="carol-password-1", is_staff=True)


@pytest.fixture
def demo():
    return demo_model_register()


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page_of(response) -> str:
    """The page's text with entities decoded: {% translate %} leaves an apostrophe as it is,
    while {{ }} escapes one that comes from Python."""
    return html.unescape(response.content.decode())


def _entries(catalog) -> dict[tuple[str | None, str], object]:
    """(context, msgid) -> the translation, plural forms included; the header left out."""
    return {(entry.msgctxt, entry.msgid): entry.msgstr_plural or entry.msgstr
            for entry in catalog if entry.msgid and not entry.obsolete}


# The catalogs


def test_there_are_french_catalogs_for_python_and_for_javascript():
    assert [path.name for path in CATALOGS if path.parent.parent.name == "fr"] == [
        "django.po", "djangojs.po"]


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda path: path.name)
def test_every_entry_is_translated_and_none_is_fuzzy(po_path):
    catalog = polib.pofile(str(po_path))
    assert not catalog.metadata_is_fuzzy, f"{po_path}: its header is marked fuzzy"
    untranslated = [entry.msgid for entry in catalog.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalog.fuzzy_entries()]
    assert untranslated == [], f"{po_path}: translate these, then `make messages`"
    assert fuzzy == [], f"{po_path}: check these and drop their fuzzy flag"


@pytest.mark.parametrize("po_path", CATALOGS, ids=lambda path: path.name)
def test_the_committed_mo_is_compiled_from_the_po_as_it_is_now(po_path):
    # Compared by content, not bytes: msgfmt and polib lay the same catalog out differently.
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run `make messages`"
    compiled = _entries(polib.mofile(str(mo_path)))
    assert compiled == _entries(polib.pofile(str(po_path))), (
        f"{mo_path} is out of date with its .po: run `make messages`")


def test_each_translation_keeps_the_placeholders_of_its_source():
    import re

    placeholder = re.compile(r"%(?:\([a-z_]+\))?[sd]")
    for po_path in CATALOGS:
        for entry in polib.pofile(str(po_path)):
            sources = {entry.msgid, entry.msgid_plural} - {""}
            wanted = [sorted(placeholder.findall(source)) for source in sources]
            for text in (entry.msgstr_plural or {0: entry.msgstr}).values():
                assert sorted(placeholder.findall(text)) in wanted, (po_path.name, entry.msgid)


# Which language a page comes in


def test_the_login_page_is_in_english_by_default():
    page = page_of(Client().get("/accounts/login/"))
    assert '<html lang="en">' in page
    assert "<h1>Log in</h1>" in page and ">Password</label>" in page


def test_a_browser_asking_for_a_language_the_hub_lacks_gets_english():
    page = page_of(Client().get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="de-DE,de"))
    assert '<html lang="en">' in page and "<h1>Log in</h1>" in page


def test_a_french_browser_gets_the_login_page_in_french():
    page = page_of(Client().get("/accounts/login/", **FRENCH))
    assert '<html lang="fr">' in page
    assert "<title>Se connecter · llmhub</title>" in page
    assert ">Nom d'utilisateur</label>" in page and ">Mot de passe</label>" in page
    assert ">Langue</label>" in page


def test_a_wrong_password_is_refused_in_french():
    response = Client().post("/accounts/login/", {"username": "x", "password": "y"}, **FRENCH)
    assert "Nom d'utilisateur ou mot de passe incorrect." in page_of(response)


def test_the_models_pages_are_in_french_for_a_french_browser(alice, demo):
    client = logged_in(alice)
    listing = page_of(client.get("/models/", **FRENCH))
    assert "<h1>Modèles</h1>" in listing
    assert ">Clés d'API</a>" in listing and ">Se déconnecter</button>" in listing
    card = page_of(client.get(f"/models/{demo.pk}/", **FRENCH))
    assert "Tourne sur llama.cpp (local), depuis" in card
    assert "<dt>Paramètres</dt>" in card
    assert "134,5 millions de nombres appris à l'entraînement (135M)" in card
    # Grouped the French way: a no-break space between thousands.
    assert "entraîné pour 8\u00a0192 jetons" in card
    assert "98,4 Mo de poids + 377,5 Mo de cache KV pour 4 réponses à la fois" in card


def test_the_keys_page_and_its_form_are_in_french(alice, demo):
    api_key_create(owner=alice, name="portable", requests_per_minute=1, tokens_per_minute=500)
    page = page_of(logged_in(alice).get("/keys/", **FRENCH))
    assert "<h1>Clés d'API</h1>" in page
    assert "1 requête/min" in page and "500 jetons/min" in page
    assert "Expire dans (jours)\u00a0:" in page  # Django's French label suffix
    assert "Vide\u00a0: elle n'expire jamais." in page
    assert ">Créer la clé</button>" in page and ">Révoquer</button>" in page


def test_a_new_key_is_announced_in_french(alice):
    response = logged_in(alice).post("/keys/", {"name": "portable"}, **FRENCH)
    page = page_of(response)
    assert "Votre nouvelle clé d'API\u00a0: portable" in page
    assert "elle n'est affichée qu'une seule fois." in page


def test_the_staff_pages_and_a_services_refusal_are_in_french(carol, demo):
    client = logged_in(carol)
    cluster = page_of(client.get("/models/cluster/", **FRENCH))
    assert "<h1>Nœuds et répliques</h1>" in cluster
    # Not the empty table's line: a worker of another test may have reported meanwhile.
    assert ">Disque libre</th>" in cluster
    assert "Mémoire libre pour les répliques" in cluster
    add = page_of(client.get("/models/add/", **FRENCH))
    assert "<h1>Ajouter un modèle</h1>" in add and "Dépôt Hugging Face" in add
    refused = client.post("/models/add/", {"kind": "url", "url": "http://example.com/a.gguf"},
                          **FRENCH)
    assert refused.status_code == 400
    assert ("Non ajouté\u00a0: «\u00a0http://example.com/a.gguf\u00a0» n'est pas une "
            "URL https") in page_of(refused)
    card = page_of(client.get(f"/models/{demo.pk}/", **FRENCH))
    assert "<h3 id=\"deploy-title\">Déployer</h3>" in card and ">Supprimer…</button>" in card


def test_the_not_found_page_is_in_french(alice):
    response = logged_in(alice).get("/models/999999/", **FRENCH)
    assert response.status_code == 404
    assert "<h1>Page introuvable</h1>" in page_of(response)


def test_the_javascript_catalog_follows_the_language():
    french = page_of(Client().get("/jsi18n/", **FRENCH))
    assert "En attente du n\\u0153ud" in french or "En attente du nœud" in french
    assert "Connexion perdue" in french
    assert "Connexion perdue" not in page_of(Client().get("/jsi18n/"))


# The switch in the top bar


def test_every_page_offers_the_switch_back_to_where_it_was(alice):
    page = page_of(logged_in(alice).get("/keys/?page=2", **FRENCH))
    assert 'action="/i18n/setlang/"' in page
    assert '<input type="hidden" name="next" value="/keys/?page=2">' in page
    assert '<option value="fr" lang="fr" selected>Français</option>' in page
    assert '<option value="en" lang="en">English</option>' in page
    assert "{#" not in page and "{%" not in page  # no template comment leaks into the page


def test_the_switch_sets_french_for_every_page_that_follows(alice, demo):
    client = logged_in(alice)
    switched = client.post("/i18n/setlang/", {"language": "fr", "next": "/models/"})
    assert switched.status_code == 302 and switched["Location"] == "/models/"
    # No Accept-Language from here on: the cookie alone keeps French.
    assert "<h1>Modèles</h1>" in page_of(client.get("/models/"))
    assert "<h1>Clés d'API</h1>" in page_of(client.get("/keys/"))


def test_the_switch_takes_a_french_browser_back_to_english(alice):
    client = logged_in(alice)
    client.post("/i18n/setlang/", {"language": "en", "next": "/keys/"}, **FRENCH)
    page = page_of(client.get("/keys/", **FRENCH))
    assert '<html lang="en">' in page and "<h1>API keys</h1>" in page


def test_the_switch_works_before_logging_in():
    client = Client()
    client.post("/i18n/setlang/", {"language": "fr", "next": "/accounts/login/"})
    assert "<h1>Se connecter</h1>" in page_of(client.get("/accounts/login/"))


def test_the_switch_ignores_a_language_the_hub_lacks_and_a_foreign_next():
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "de", "next": "https://evil.example/"})
    assert response["Location"] == "/"  # not the foreign site
    assert "<h1>Log in</h1>" in page_of(client.get("/accounts/login/"))


# Who may see what does not depend on the language


def test_an_anonymous_french_visitor_is_still_sent_to_log_in(demo):
    for url in ("/models/", f"/models/{demo.pk}/", "/keys/", "/models/cluster/"):
        response = Client().get(url, **FRENCH)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/?next="), url


def test_bob_in_french_is_still_refused_the_staff_pages_and_alices_key(alice, bob, demo):
    key, _ = api_key_create(owner=alice, name="alices-laptop")
    client = logged_in(bob)
    client.post("/i18n/setlang/", {"language": "fr", "next": "/models/"})
    assert client.get("/models/cluster/").status_code == 403
    assert client.get("/models/add/").status_code == 403
    assert client.post(f"/models/{demo.pk}/undeploy/").status_code == 403
    assert "alices-laptop" not in page_of(client.get("/keys/"))
    assert client.post(f"/keys/{key.pk}/revoke/").status_code == 404


# The chat pages


@pytest.fixture
def conversation(alice, demo):
    from chat.services import conversation_create

    return conversation_create(owner=alice, model=demo)


def test_the_chat_page_is_in_french_for_a_french_browser(alice, conversation):
    page = page_of(logged_in(alice).get(f"/chat/c/{conversation.pk}/", **FRENCH))
    assert f"<title>Conversation {conversation.pk} · llmhub</title>" in page
    assert ">Nouvelle conversation</button>" in page and ">Comparer des modèles</a>" in page
    assert 'placeholder="Rechercher dans les conversations"' in page
    assert "<summary>Renommer</summary>" in page and "<summary>Réglages</summary>" in page
    assert ">Exporter <a" in page and ">Supprimer…</button>" in page
    assert f'placeholder="Écrire à {conversation.model.name}"' in page
    assert "Entrée envoie · Maj+Entrée va à la ligne · Échap arrête une réponse" in page
    assert ">Envoyer</button>" in page and ">Arrêter</button>" in page
    assert "<label for=\"id_temperature\">Température</label>" in page


def test_the_chat_welcome_and_an_empty_search_are_in_french(alice, conversation):
    client = logged_in(alice)
    welcome = page_of(client.get("/chat/", **FRENCH))
    assert "<h1>Discuter avec un modèle</h1>" in welcome
    search = page_of(client.get("/chat/?q=levain", **FRENCH))
    assert "Résultats pour «\u00a0levain\u00a0»" in search and ">Tout afficher</a>" in search
    assert "Aucune conversation ne correspond." in search


def test_a_refused_rename_is_explained_in_french(alice, conversation):
    response = logged_in(alice).post(f"/chat/c/{conversation.pk}/rename/", {"title": "  "},
                                     **FRENCH)
    assert response.status_code == 400
    assert "Le titre est vide." in page_of(response)


def test_the_delete_confirmation_is_in_french(alice, conversation):
    conversation.messages.create(role="user", content="Bonjour")
    response = logged_in(alice).post(f"/chat/c/{conversation.pk}/delete/", **FRENCH)
    page = page_of(response)
    title = f"Supprimer «\u00a0Conversation {conversation.pk}\u00a0»\u202f?"
    assert f"<h1>{title}</h1>" in page
    assert "1 message sera supprimé avec elle, définitivement." in page
    assert ">Supprimer la conversation</button>" in page and ">La garder</a>" in page
    assert conversation.messages.exists()  # only asked to confirm


def test_the_markdown_export_labels_follow_the_page_language(alice, conversation):
    question = conversation.messages.create(role="user", content="Bonjour")
    conversation.current = conversation.messages.create(
        role="assistant", parent=question, content="Salut", status="done", prompt_tokens=12,
        completion_tokens=1, ttft_ms=123.4, tokens_per_second=35.25)
    conversation.save()
    text = logged_in(alice).get(f"/chat/c/{conversation.pk}/export.md", **FRENCH
                                ).content.decode()
    assert f"Modèle\u00a0: {conversation.model.name} · " in text
    assert "**Vous**\n\nBonjour" in text
    assert "*12 jetons d'invite · 1 jeton · premier jeton 123 ms · 35,2 jetons/s*" in text


def test_the_chat_socket_refuses_in_the_pages_language(hub_url, alice, conversation):
    import json

    from websockets.sync.client import connect

    from tests.chat_client import session_cookie

    def empty_message_refusal(**headers) -> dict:
        url = hub_url.replace("http://", "ws://") + f"/ws/chat/{conversation.pk}/"
        with connect(url, additional_headers={"Origin": hub_url, **headers},
                     open_timeout=10) as ws:
            ws.send(json.dumps({"type": "send", "text": "   "}))
            return json.loads(ws.recv(timeout=10))

    # No LocaleMiddleware on a websocket: the consumer reads the same cookie and header.
    session = f"sessionid={session_cookie(alice)}"
    assert empty_message_refusal(Cookie=session, **{"Accept-Language": "fr-FR,fr;q=0.9"}) == {
        "type": "error", "error": "Le message est vide."}
    assert empty_message_refusal(Cookie=f"{session}; django_language=en",
                                 **{"Accept-Language": "fr-FR"}) == {
        "type": "error", "error": "Message is empty."}
    assert empty_message_refusal(Cookie=session) == {"type": "error", "error": "Message is empty."}


def test_bob_in_french_still_cannot_open_or_delete_alices_conversation(bob, conversation):
    client = logged_in(bob)
    assert client.get(f"/chat/c/{conversation.pk}/", **FRENCH).status_code == 404
    response = client.post(f"/chat/c/{conversation.pk}/delete/", {"confirmed": "yes"}, **FRENCH)
    assert response.status_code == 404
    assert conversation.__class__.objects.filter(pk=conversation.pk).exists()
