from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from llmhub.api.keys import api_key_revoke
from llmhub.api.models import ApiKey, Usage


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

    @admin.display(description="allowed models")
    def models(self, key: ApiKey) -> str:
        return ", ".join(key.allowed_models) or "all"

    @admin.action(description="Revoke selected API keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(key)
        self.message_user(request, f"Revoked {len(queryset)} API key(s).")


@admin.register(Usage)
class UsageAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "key_prefix", "model_name", "endpoint",
                    "prompt_tokens", "completion_tokens", "duration_ms", "outcome", "error"]
    list_filter = ["outcome", "endpoint", "model_name", "created_at"]
    list_select_related = ["user", "api_key"]
    search_fields = ["user__username", "model_name", "api_key__prefix"]
    date_hierarchy = "created_at"

    @admin.display(description="API key", ordering="api_key__prefix")
    def key_prefix(self, usage: Usage) -> str:
        return usage.api_key.prefix if usage.api_key else "-"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Usage | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Usage | None = None) -> bool:
        return False
