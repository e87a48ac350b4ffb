from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _


class Comparison(models.Model):
    """One prompt sent to 2 or 3 models at once; each model's reply lives in a
    conversation of its own (``conversations``), which can be continued alone."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comparisons"
    )
    prompt = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.prompt[:80]


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
    system_prompt = models.TextField(blank=True)
    # What the user set for this conversation: temperature, top_p, max_tokens, seed,
    # context_length; a setting left out takes the model's default (chat.settings).
    settings = models.JSONField(default=dict, blank=True)
    # The last message of the branch on show: regenerating or editing adds a sibling, and
    # the page shows the path from the root down to this message (chat.branches).
    current = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comparison = models.ForeignKey(
        Comparison, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "origin", "-updated_at"])]

    def __str__(self) -> str:
        return self.title or _("Conversation %(id)s") % {"id": self.pk}


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
    # The message this one follows; siblings (same parent) are the versions of one turn.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
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
    # (see chat.prompting.generation_request); empty for the chat page's replies.
    params = models.JSONField(default=dict, blank=True)
    # The reply's tokens with their log-probabilities and the top alternatives at each
    # step: [[token, logprob, [[alternative, logprob], ...]], ...]. Large: read on demand.
    tokens = models.JSONField(null=True, blank=True)

    ACTIVE = (Status.QUEUED, Status.STREAMING)

    class Meta:
        ordering = ["created_at", "id"]

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class ShareLink(models.Model):
    """A read-only link to a conversation for logged-in teammates, until revoked."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="share_links"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
