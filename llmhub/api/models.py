from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models


def validate_model_names(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(name, str) and name for name in value):
        raise ValidationError("Allowed models must be a list of model names.")


class ApiKey(models.Model):
    """A bearer key for the HTTP APIs. Only its hash is stored: the key is shown once."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=12, help_text="The key's first characters, to tell keys apart in lists."
    )
    # sha256 is enough (no salt, no slow KDF): keys are 32 random bytes, not passwords, so
    # there is no dictionary to try; and a fast hash keeps each API request's lookup cheap.
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    allowed_models = models.JSONField(
        default=list, blank=True, validators=[validate_model_names],
        help_text="Model names this key may use; empty: every model its owner may use.",
    )
    requests_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: no limit."
    )
    tokens_per_minute = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Empty: no limit."
    )
    is_admin_key = models.BooleanField(
        default=False, help_text="May call admin endpoints (pull, delete models). Staff only."
    )

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}".rstrip()


class Usage(models.Model):
    """One API request: who, which model, how many tokens, how it ended."""

    class Outcome(models.TextChoices):
        DONE = "done"
        FAILED = "failed"
        CANCELLED = "cancelled"
        REFUSED = "refused"
        RATE_LIMITED = "rate_limited"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_usage"
    )
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="usage"
    )
    model_name = models.CharField(max_length=200, blank=True)
    endpoint = models.CharField(max_length=100)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "created_at"])]
        verbose_name_plural = "usage"

    def __str__(self) -> str:
        return f"{self.endpoint} {self.model_name} ({self.outcome})"


class TokenQuota(models.Model):
    """How many tokens (prompt and reply) a user may spend per day, chat and API together;
    set by admins. A user without one has no limit."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token_quota"
    )
    tokens_per_day = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.tokens_per_day} tokens/day"
