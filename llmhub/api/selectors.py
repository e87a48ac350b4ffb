"""Reads for the account pages: a user's API keys, and tokens spent per day and model."""
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import F, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from chat.models import Conversation, Message
from llmhub.api.models import ApiKey, Usage


def api_key_list(*, user: AbstractBaseUser) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(owner=user)


def api_key_get(*, user: AbstractBaseUser, key_id: int) -> ApiKey | None:
    """The user's key, or None for an unknown one and for anyone else's."""
    return api_key_list(user=user).filter(pk=key_id).first()


@dataclass(frozen=True)
class DailyTokens:
    day: date
    model_name: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def usage_days(days: int) -> list[date]:
    """The last ``days`` days, today's last, in the hub's time zone."""
    today = timezone.localdate()
    return [today - timedelta(days=back) for back in range(days - 1, -1, -1)]


def usage_daily_tokens(*, user: AbstractBaseUser | None, days: int) -> list[DailyTokens]:
    """Tokens per day and model over the last ``days`` days, for ``user`` or, with None,
    for everyone: the API calls' usage rows plus the chat page's finished replies. Days
    and models without tokens are left out."""
    since = timezone.make_aware(datetime.combine(usage_days(days)[0], time.min))
    totals: dict[tuple[date, str], tuple[int, int]] = {}
    for row in [*_api_tokens(user, since), *_chat_tokens(user, since)]:
        key = (row["day"], row["model_name"])
        prompt, completion = totals.get(key, (0, 0))
        totals[key] = (prompt + row["prompt"], completion + row["completion"])
    return [DailyTokens(day, model_name, prompt, completion)
            for (day, model_name), (prompt, completion) in sorted(totals.items())
            if prompt + completion]


def usage_tokens_since(*, user: AbstractBaseUser, since: datetime) -> int:
    """Prompt and reply tokens ``user`` spent since ``since``, counted as the usage page
    counts them (the token quota uses it, so a refusal and the page agree)."""
    api = _api_usage_rows(user, since).aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0), completion=Coalesce(Sum("completion_tokens"), 0))
    chat = _chat_replies(user, since).aggregate(
        prompt=Coalesce(Sum("prompt_tokens"), 0), completion=Coalesce(Sum("completion_tokens"), 0))
    return api["prompt"] + api["completion"] + chat["prompt"] + chat["completion"]


def _api_usage_rows(user: AbstractBaseUser | None, since: datetime) -> QuerySet:
    rows = Usage.objects.filter(created_at__gte=since)
    return rows if user is None else rows.filter(user=user)


def _chat_replies(user: AbstractBaseUser | None, since: datetime) -> QuerySet:
    # API calls store their replies as messages too, but Usage already counts them.
    replies = Message.objects.filter(
        conversation__origin=Conversation.Origin.CHAT, role=Message.Role.ASSISTANT,
        status=Message.Status.DONE, finished_at__gte=since)
    return replies if user is None else replies.filter(conversation__owner=user)


def _api_tokens(user: AbstractBaseUser | None, since: datetime) -> QuerySet:
    return (_api_usage_rows(user, since).annotate(day=TruncDate("created_at"))
            .values("day", "model_name")
            .annotate(prompt=Sum("prompt_tokens"), completion=Sum("completion_tokens"))
            .order_by())


def _chat_tokens(user: AbstractBaseUser | None, since: datetime) -> QuerySet:
    return (_chat_replies(user, since)
            .annotate(day=TruncDate("finished_at"), model_name=F("conversation__model__name"))
            .values("day", "model_name")
            .annotate(prompt=Coalesce(Sum("prompt_tokens"), 0),
                      completion=Coalesce(Sum("completion_tokens"), 0))
            .order_by())
