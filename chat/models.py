from django.conf import settings
from django.db import models


class Conversation(models.Model):
    """A chat on the page, or one API request (its messages travel in the reply's params)."""

    class Origin(models.TextChoices):
        CHAT = "chat"
        API = "api"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    model = models.ForeignKey("models_registry.Model", on_delete=models.PROTECT)
    title = models.CharField(max_length=200, blank=True)
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.CHAT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "origin", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or f"Conversation {self.pk}"


class Message(models.Model):
    """A user's message, or an assistant reply whose id is also its generation's id."""

    class Role(models.TextChoices):
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        QUEUED = "queued"
        STREAMING = "streaming"
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    error = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=20, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True)
    completion_tokens = models.PositiveIntegerField(null=True)
    ttft_ms = models.FloatField(null=True)
    tokens_per_second = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    # An API request's own settings: its messages or raw prompt, and sampling options
    # (see chat.generation.generation_request); empty for the chat page's replies.
    params = models.JSONField(default=dict, blank=True)

    ACTIVE = (Status.QUEUED, Status.STREAMING)

    class Meta:
        ordering = ["created_at", "id"]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE
