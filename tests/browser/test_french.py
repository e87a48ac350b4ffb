"""The hub in French, in a real browser whose language is French: the login page, the models
and keys pages, the live cluster page (its script words updates from the JavaScript
catalog), and the switch in the top bar, to English and back. The screenshot goes to
tests/artifacts/french-pages.png.

Real daphne, Redis and the session's Celery worker behind the pages.
"""
import re

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

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
