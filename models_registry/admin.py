from django.contrib import admin

from models_registry.models import Model


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "backend", "source_kind", "file_size", "context_length", "enabled"]
    list_filter = ["backend", "enabled"]
    search_fields = ["name", "source"]
    readonly_fields = ["file_size", "created_at"]
