from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog

from llmhub.api import urls as api_urls
from llmhub.api import views as account_views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat:index"), name="home"),
    path("chat/", include("chat.urls")),
    path("models/", include("models_registry.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the language switch
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("keys/", account_views.api_keys, name="api_keys"),
    path("keys/<int:key_id>/revoke/", account_views.api_key_revoke_view, name="api_key_revoke"),
    path("usage/", account_views.usage, name="usage"),
    path("v1/", include(api_urls.openai_urls)),
    path("api/", include(api_urls.ollama_urls)),
]
