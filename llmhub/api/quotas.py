"""Per-user daily token quotas, set by admins: chat and API together, per UTC day.

Tokens are counted as the usage page counts them (llmhub.api.selectors.
usage_daily_tokens), so "N of M tokens used today" and a refusal agree: the API calls'
usage rows, embeddings included, plus the chat page's finished replies. A turn is admitted
while the day's count is under the quota, and a reply is never cut off: the last one may
take the count past it, and the next turn is refused."""
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.utils.formats import number_format
from django.utils.translation import ngettext

from llmhub.api.models import TokenQuota
from llmhub.api.selectors import usage_tokens_since


class QuotaExceeded(ValidationError):
    """The user has spent today's tokens; ``retry_after_seconds`` is the time to midnight
    UTC, when the count starts again."""

    def __init__(self, *, tokens_per_day: int, now: datetime | None = None) -> None:
        limit = number_format(tokens_per_day, force_grouping=True)
        super().__init__(ngettext(
            "You have used your %(limit)s token for today. The quota resets at midnight UTC.",
            "You have used your %(limit)s tokens for today. The quota resets at midnight UTC.",
            tokens_per_day) % {"limit": limit}, code="quota_exceeded")
        self.retry_after_seconds = quota_reset_seconds(now=now)


@dataclass(frozen=True)
class QuotaStatus:
    used: int
    tokens_per_day: int

    @property
    def is_spent(self) -> bool:
        return self.used >= self.tokens_per_day


def quota_check(*, user: AbstractBaseUser) -> None:
    """Raise QuotaExceeded (a ValidationError) when the user has spent today's tokens."""
    status = quota_status(user=user)
    if status is not None and status.is_spent:
        raise QuotaExceeded(tokens_per_day=status.tokens_per_day)


def quota_status(*, user: AbstractBaseUser) -> QuotaStatus | None:
    """Today's tokens and the user's quota; None for a user without a quota (no limit)."""
    quota = TokenQuota.objects.filter(user=user).first()
    if quota is None:
        return None
    return QuotaStatus(used=quota_tokens_used_today(user=user),
                       tokens_per_day=quota.tokens_per_day)


def quota_tokens_used_today(*, user: AbstractBaseUser, now: datetime | None = None) -> int:
    """Prompt and reply tokens the user spent since midnight UTC, chat and API together."""
    return usage_tokens_since(user=user, since=_day_start(now))


def quota_reset_seconds(*, now: datetime | None = None) -> int:
    """Seconds until the next midnight UTC, at least 1."""
    now = now or datetime.now(UTC)
    return max(1, int((_day_start(now) + timedelta(days=1) - now).total_seconds()))


def _day_start(now: datetime | None) -> datetime:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return datetime.combine(now.date(), time.min, tzinfo=UTC)
