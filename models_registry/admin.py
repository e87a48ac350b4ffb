from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from models_registry.models import Model, Node, Placement
from models_registry.selectors import node_is_ready


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "backend", "source_kind", "source", "file_size", "context_length",
                    "enabled", "who_may_use"]
    list_filter = ["backend", "enabled", "groups"]
    search_fields = ["name", "source"]
    readonly_fields = ["file_size", "created_at"]
    filter_horizontal = ["groups"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Model]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="who may use it")
    def who_may_use(self, model: Model) -> str:
        return ", ".join(group.name for group in model.groups.all()) or "everyone"


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ["name", "ready", "accepts_placements", "host", "cpu_count", "ram_gb",
                    "disk_free_gb", "model_names", "active_tasks", "last_seen"]
    readonly_fields = [f.name for f in Node._meta.fields]

    @admin.display(boolean=True)
    def ready(self, node: Node) -> bool:
        return node_is_ready(node)

    @admin.display(description="RAM (GB)")
    def ram_gb(self, node: Node) -> str:
        return f"{node.ram_bytes / 1e9:.1f}"

    @admin.display(description="free disk (GB)")
    def disk_free_gb(self, node: Node) -> str:
        return f"{node.disk_free_bytes / 1e9:.1f}"


@admin.register(Placement)
class PlacementAdmin(admin.ModelAdmin):
    list_display = ["model", "node", "slots", "memory_gb", "state", "error", "updated_at"]
    list_filter = ["state"]
    list_select_related = ["model", "node"]

    @admin.display(description="memory (GB)")
    def memory_gb(self, placement: Placement) -> str:
        return f"{placement.memory_bytes / 1e9:.2f}"
