"""The hub in French, in a real browser whose language is French: the login page, the models
and keys pages, the live cluster page (its script words updates from the JavaScript
catalog), the chat page with a real reply and the compare form, and the switch in the top
bar, to English and back. The screenshots go to tests/artifacts/french-pages.png and
tests/artifacts/chat-french.png.

Real daphne, Redis and the session's Celery worker behind the pages.
"""
import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from tests.browser.conftest import PAGE_PROBE
from tests.browser.test_chat_page import send_message, socket_open, wait_for_status

pytestmark = pytest.mark.browser


@pytest.fixture
def sam(transactional_db):
    """Sam runs the hub: staff, not superuser."""
    return User.objects.create_user("sam", password="sam-password-1", is_staff=True)


@pytest.fixture
def french_page(browser, hub_url):
    """A page in a browser set up for France: it sends Accept-Language: fr-FR."""
    context = browser.new_context(base_url=hub_url, locale="fr-FR",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    context.add_init_script(PAGE_PROBE)  # socket_open() watches the chat page's websocket
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def log_in(page, username: str, password: str) -> None:
    """Through the French login page, as a person would."""
    page.goto("/accounts/login/")
    expect(page).to_have_title("Se connecter · llmhub")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_label("Nom d'utilisateur").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def switch_to(page, language_name: str) -> None:
    """With the top bar's form and its button: the switch works without JS."""
    switch = page.locator("form.language-switch")
    switch.locator("select").select_option(label=language_name)
    switch.get_by_role("button").click()


def test_a_french_browser_gets_the_hub_in_french(french_page, sam, demo_model, artifacts):
    page = french_page
    page.goto("/accounts/login/")
    page.get_by_label("Mot de passe").fill("wrong")
    page.get_by_label("Nom d'utilisateur").fill("sam")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("alert")).to_have_text(
        "Nom d'utilisateur ou mot de passe incorrect.")
    log_in(page, "sam", "sam-password-1")

    page.goto("/models/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Modèles")
    expect(page.get_by_role("link", name=demo_model.name)).to_be_visible()
    expect(page.get_by_role("link", name="Ajouter un modèle")).to_be_visible()
    expect(page.get_by_label("Langue")).to_have_value("fr")

    page.get_by_role("link", name="Clés d'API").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Clés d'API")
    page.locator("#id_name").fill("portable")
    page.get_by_role("button", name="Créer la clé").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Votre nouvelle clé d'API\u00a0: portable")

    page.goto("/models/cluster/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nœuds et répliques")
    # Written by cluster.js once its socket delivers: French from the JavaScript catalog.
    expect(page.locator("#live-status")).to_have_text(
        "En direct\u00a0: les changements s'affichent dès qu'ils surviennent.")
    page.screenshot(path=str(artifacts / "french-pages.png"), full_page=True)


def test_the_switch_changes_to_english_and_back(french_page, sam):
    page = french_page
    log_in(page, "sam", "sam-password-1")
    page.goto("/keys/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clés d'API")

    switch_to(page, "English")
    expect(page).to_have_url(re.compile(r"/keys/$"))  # back where it was
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("API keys")
    expect(page.get_by_label("Language")).to_have_value("en")
    page.get_by_role("link", name="Models").click()  # and it sticks on the next page
    expect(page.get_by_role("heading", level=1)).to_have_text("Models")

    switch_to(page, "Français")
    expect(page.get_by_role("heading", level=1)).to_have_text("Modèles")
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def test_bob_in_french_is_still_refused_the_cluster_page(french_page, bob):
    page = french_page
    log_in(page, "bob", "bob-password-1")
    response = page.goto("/models/cluster/")
    assert response.status == 403


def test_a_french_browser_chats_in_french(french_page, alice, demo_model, artifacts):
    page = french_page
    log_in(page, "alice", "alice-password-1")
    page.goto("/chat/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Discuter avec un modèle")
    expect(page.get_by_text("Choisissez un modèle et commencez une nouvelle conversation.")
           ).to_be_visible()
    expect(page.locator(".conversations .empty")).to_have_text(
        "Aucune conversation pour le moment.")

    page.get_by_label("Modèle").select_option(value=str(demo_model.pk))
    page.get_by_role("button", name="Nouvelle conversation").click()
    page.wait_for_url(re.compile(r"/chat/c/\d+/$"))
    socket_open(page)
    expect(page.locator("#composer-keys")).to_have_text(
        "Entrée envoie · Maj+Entrée va à la ligne · Échap arrête une réponse")
    expect(page.locator("#prompt")).to_have_attribute("placeholder", f"Écrire à {demo_model.name}")

    send_message(page, "Bonjour")
    reply = wait_for_status(page, "done")
    # Written by conversation.js from the JavaScript catalog.
    expect(reply.get_by_role("button", name="Régénérer")).to_be_visible()
    expect(page.locator(".message.user").get_by_role("button", name="Modifier")).to_be_visible()
    stats = reply.locator(".stats").text_content()
    assert re.search(r"\b\d+ jetons d'invite\b", stats), stats
    assert re.search(r"\b\d+ jetons? · premier jeton \d+ ms · \d+([.,]\d)? jetons/s$", stats), stats

    expect(page.get_by_role("button", name="Envoyer")).to_be_visible()
    for summary in ("Renommer", "Partager", "Supprimer…"):
        expect(page.get_by_text(summary, exact=True)).to_be_visible()
    expect(page.locator(".conversation-actions")).to_contain_text("Exporter Markdown · JSON")
    page.get_by_text("Réglages", exact=True).click()
    for label in ("Invite système", "Température", "Jetons max.", "Graine",
                  "Longueur du contexte"):
        expect(page.get_by_label(label, exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Enregistrer les réglages")).to_be_visible()
    page.get_by_text("Réglages", exact=True).click()  # closed again, for the screenshot

    sidebar = page.locator(".sidebar")
    expect(sidebar.locator(".conversations li.current a")).to_have_text("Bonjour")
    expect(sidebar.get_by_role("button", name="Nouvelle conversation")).to_be_visible()
    expect(sidebar.get_by_role("link", name="Comparer des modèles")).to_be_visible()
    expect(sidebar.get_by_label("Rechercher dans les conversations")).to_be_visible()
    page.screenshot(path=str(artifacts / "chat-french.png"), full_page=True)

    sidebar.get_by_role("link", name="Comparer des modèles").click()
    expect(page).to_have_title("Comparer des modèles · llmhub")
    expect(page.get_by_role("heading", level=1)).to_have_text("Comparer des modèles")
    expect(page.get_by_text("Modèles (choisissez-en 2 ou 3)")).to_be_visible()
    page.get_by_label("Invite").fill("Bonjour")
    page.get_by_role("checkbox", name=demo_model.name).check()
    page.get_by_role("button", name="Comparer", exact=True).click()
    expect(page.locator("#models-errors")).to_have_text("Choisissez 2 ou 3 modèles à comparer.")
    expect(page.get_by_role("heading", name="Vos comparaisons")).to_be_visible()
