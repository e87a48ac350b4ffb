"""Usage records: one row per API request, whatever its outcome."""
from django.contrib.auth.models import AbstractBaseUser

from llmhub.api.models import ApiKey, Usage

ERROR_MAX_CHARS = Usage._meta.get_field("error").max_length


def usage_record(
    *,
    user: AbstractBaseUser,
    api_key: ApiKey | None,
    model_name: str,
    endpoint: str,
    prompt_tokens: int,
    completion_tokens: int,
    duration_ms: int,
    outcome: str,
    error: str = "",
) -> Usage:
    """Store one request's usage; `outcome` is a Usage.Outcome value, `error` is cut to fit."""
    if outcome not in Usage.Outcome.values:
        raise ValueError(f"Unknown usage outcome {outcome!r}")
    return Usage.objects.create(
        user=user,
        api_key=api_key,
        model_name=model_name,
        endpoint=endpoint,
        prompt_tokens=max(0, prompt_tokens),
        completion_tokens=max(0, completion_tokens),
        duration_ms=max(0, round(duration_ms)),
        outcome=outcome,
        error=error[:ERROR_MAX_CHARS],
    )
