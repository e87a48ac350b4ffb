from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from llmhub.api.keys import api_key_revoke
from llmhub.api.models import ApiKey, TokenQuota, Usage
from llmhub.api.quotas import quota_tokens_used_today


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    # key_hash is never shown: it is useless to a reader and needless to expose.
    list_display = ["prefix", "owner", "name", "expires_at", "revoked", "last_used_at",
                    "requests_per_minute", "tokens_per_minute", "models", "is_admin_key"]
    list_filter = ["is_admin_key", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["owner"]
    search_fields = ["prefix", "name", "owner__username"]
    fields = ["prefix", "owner", "name", "created_at", "expires_at", "revoked_at",
              "last_used_at", "allowed_models", "requests_per_minute", "tokens_per_minute",
              "is_admin_key"]
    # is_admin_key stays read-only: only api_key_create checks that the owner is staff.
    readonly_fields = ["prefix", "owner", "created_at", "revoked_at", "last_used_at",
                       "is_admin_key"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # keys are created where their plain text can be shown once

    @admin.display(boolean=True, ordering="revoked_at")
    def revoked(self, key: ApiKey) -> bool:
        return key.revoked_at is not None

    @admin.display(description=_("allowed models"))
    def models(self, key: ApiKey) -> str:
        return ", ".join(key.allowed_models) or str(_("all"))

    @admin.action(description=_("Revoke selected API keys"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key)
        count = len(queryset)
        self.message_user(request, ngettext("Revoked %(count)s API key.",
                                            "Revoked %(count)s API keys.", count)
                          % {"count": count})


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "key_prefix", "model_name", "endpoint",
                    "prompt_tokens", "completion_tokens", "duration_ms", "outcome", "error"]
    list_filter = ["outcome", "endpoint", "model_name", "created_at"]
    list_select_related = ["user", "api_key"]
    search_fields = ["user__username", "model_name", "api_key__prefix"]
    date_hierarchy = "created_at"

    @admin.display(description=_("API key"), ordering="api_key__prefix")
    def key_prefix(self, usage: Usage) -> str:
        return usage.api_key.prefix if usage.api_key else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Usage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Usage | None = None) -> bool:
        return False


@admin.register(TokenQuota)
class TokenQuotaAdmin(admin.ModelAdmin):
    list_display = ["user", "tokens_per_day", "used_today", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]
    readonly_fields = ["used_today", "updated_at"]

    @admin.display(description=_("tokens used today (UTC)"))
    def used_today(self, quota: TokenQuota) -> str:
        if quota.pk is None:
            return "-"
        return number_format(quota_tokens_used_today(user=quota.user), force_grouping=True)


class TokenQuotaInline(admin.StackedInline):
    model = TokenQuota
    can_delete = True  # deleting a user's quota lifts the limit
    fields = ["tokens_per_day"]
    verbose_name = _("daily token quota")
    verbose_name_plural = _("daily token quota (none: no limit)")


# The user's page is where an admin looks for a person's settings, so the quota is there
# too; Django's own UserAdmin, with the quota added.
User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class QuotaUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, TokenQuotaInline]
