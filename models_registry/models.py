from django.db import models


def node_queue_name(node_name: str) -> str:
    """Each worker's own queue: pulls and releases of the replicas placed on its node."""
    return f"node.{node_name}"


REMOTE_QUEUE = "remote"  # replies of remote backends: any worker relays them


def model_queue_name(model_name: str, worker_name: str = "") -> str:
    """One Celery queue per model, which only workers hosting it consume; and one per model
    and worker, for the next turn of a conversation whose KV cache that worker holds."""
    return f"model.{model_name}@{worker_name}" if worker_name else f"model.{model_name}"


class Model(models.Model):
    """A model the hub can run: for now a GGUF file on the workers' disk, run by llama.cpp."""

    class Backend(models.TextChoices):
        LLAMACPP = "llamacpp", "llama.cpp (local)"
        OPENAI = "openai", "OpenAI-compatible server"
        OPENROUTER = "openrouter", "OpenRouter"
        OLLAMA = "ollama", "Ollama server"

    class SourceKind(models.TextChoices):
        LOCAL_FILE = "local_file", "Path on the node"
        HUGGINGFACE = "huggingface", "Hugging Face repo"
        URL = "url", "https URL"
        REMOTE = "remote", "Remote server"

    name = models.CharField(
        max_length=200, unique=True, help_text="Ollama-style name used in the picker and APIs."
    )
    backend = models.CharField(max_length=20, choices=Backend.choices, default=Backend.LLAMACPP)
    source_kind = models.CharField(
        max_length=20, choices=SourceKind.choices, default=SourceKind.LOCAL_FILE
    )
    source = models.CharField(
        max_length=500, help_text="Where the file comes from: a path, a repo id or a URL."
    )
    revision = models.CharField(max_length=100, blank=True, help_text="Hugging Face revision.")
    files = models.JSONField(
        default=list, blank=True,
        help_text="What a pull fetches: [{name, size, sha256}], a split GGUF's parts in order.",
    )
    base_url = models.CharField(
        max_length=500, blank=True, help_text="Remote backends: the server's API base URL.")
    remote_name = models.CharField(
        max_length=200, blank=True, help_text="Remote backends: the model's name there.")
    api_key_env = models.CharField(
        max_length=100, blank=True,
        help_text="Remote backends: the environment variable that holds the key on the "
                  "workers (the key itself is never stored).")
    file_path = models.CharField(
        max_length=500, blank=True,
        help_text="GGUF file (first part) on the worker's disk; relative to the models "
                  "directory for pulled files.",
    )
    file_size = models.BigIntegerField(default=0)
    context_length = models.PositiveIntegerField(
        default=4096, help_text="Tokens of context the worker allocates (prompt + reply)."
    )
    max_tokens = models.PositiveIntegerField(default=512, help_text="Longest reply.")
    temperature = models.FloatField(default=0.7, help_text="0 is greedy: the same reply each time.")
    slots = models.PositiveSmallIntegerField(
        default=4, help_text="Replies a worker decodes together, each with the full context."
    )
    metadata = models.JSONField(
        default=dict, blank=True, help_text="What the GGUF header says (read on registration)."
    )
    enabled = models.BooleanField(default=True)
    groups = models.ManyToManyField(
        "auth.Group", blank=True, related_name="models",
        help_text="Who may pick it in the chat and the APIs: members of these groups, and "
                  "staff. Empty: everyone may use it.",
    )
    error = models.TextField(blank=True, help_text="Why its file could not be read, if so.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Node(models.Model):
    """A worker process that hosts models, as it last reported itself."""

    name = models.CharField(max_length=200, unique=True, help_text="Celery's worker name.")
    host = models.CharField(max_length=200)
    cpu_count = models.PositiveIntegerField(default=0)
    ram_bytes = models.BigIntegerField(default=0)
    disk_free_bytes = models.BigIntegerField(default=0)
    gpus = models.JSONField(default=list, blank=True)
    accepts_placements = models.BooleanField(
        default=True, help_text="False for a worker pinned to models by LLMHUB_WORKER_MODELS."
    )
    files = models.JSONField(
        default=list, blank=True, help_text="Pulled model files on its disk (relative paths)."
    )
    active_tasks = models.PositiveIntegerField(default=0, help_text="Replies it is writing.")
    task_slots = models.PositiveIntegerField(default=0, help_text="Replies it can write at once.")
    model_names = models.JSONField(default=list, blank=True)
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Placement(models.Model):
    """A replica of a model on a node, with the memory it claims there."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for the node"
        PULLING = "pulling", "Downloading"
        LOADING = "loading", "Loading"
        READY = "ready", "Serving"
        FAILED = "failed", "Failed"

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="placements")
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="placements")
    slots = models.PositiveSmallIntegerField()
    memory_bytes = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["model", "node"], name="one_replica_per_node")
        ]

    def __str__(self) -> str:
        return f"{self.model} on {self.node}"
