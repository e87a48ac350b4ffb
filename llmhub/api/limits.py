"""Per-key requests and tokens per minute, counted in Redis in fixed one-minute windows.

Each window has its own Redis keys (the window's number is in the name), so a new minute
starts from zero without resetting anything, and EXPIRE only has to outlive the window:
re-arming it on every INCR is harmless, which is why Redis 6.2's lack of EXPIRE NX is not.
"""
import math
import time

import redis

from llmhub.api.models import ApiKey
from llmhub.redis import redis_client

WINDOW_SECONDS = 60
# Longer than the window, so a counter read at the window's last instant still exists.
COUNTER_TTL_SECONDS = 2 * WINDOW_SECONDS


class RateLimited(Exception):
    """The key is over one of its limits: answer 429 with Retry-After."""

    def __init__(self, retry_after_seconds: int, message: str):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.message = message


def limits_admit(key: ApiKey, *, now: float | None = None) -> None:
    """Count one request against the key's current window; raise RateLimited when that
    puts it over its requests per minute, or when its tokens this minute already reach
    its tokens per minute. A refused request counts too, until the window ends."""
    if key.requests_per_minute is None and key.tokens_per_minute is None:
        return
    now = time.time() if now is None else now
    window = _window(now)
    pipe = redis_client().pipeline()
    if key.requests_per_minute is not None:
        _count(pipe, _counter(key, window, "requests"), 1)
    pipe.get(_counter(key, window, "tokens"))
    results = pipe.execute()
    # INCRBY's new value comes first when there is a request limit; GET's value comes last.
    requests = int(results[0]) if key.requests_per_minute is not None else 0
    _refuse_when_over(key, requests=requests, tokens=int(results[-1] or 0), now=now)


def limits_count_tokens(key: ApiKey, tokens: int, *, now: float | None = None) -> None:
    """Add a request's prompt and completion tokens to the key's current window."""
    if key.tokens_per_minute is None or tokens <= 0:
        return
    now = time.time() if now is None else now
    pipe = redis_client().pipeline()
    _count(pipe, _counter(key, _window(now), "tokens"), tokens)
    pipe.execute()


def _window(now: float) -> int:
    return int(now // WINDOW_SECONDS)


def _counter(key: ApiKey, window: int, what: str) -> str:
    return f"llmhub:limits:{key.pk}:{window}:{what}"


def _count(pipe: redis.client.Pipeline, counter: str, amount: int) -> None:
    pipe.incrby(counter, amount)
    pipe.expire(counter, COUNTER_TTL_SECONDS)


def _refuse_when_over(key: ApiKey, *, requests: int, tokens: int, now: float) -> None:
    retry_after = max(1, math.ceil(WINDOW_SECONDS - now % WINDOW_SECONDS))
    rpm, tpm = key.requests_per_minute, key.tokens_per_minute
    if rpm is not None and requests > rpm:
        raise RateLimited(
            retry_after, f"Rate limit reached: {rpm} requests per minute; retry in {retry_after} s"
        )
    if tpm is not None and tokens >= tpm:
        raise RateLimited(
            retry_after, f"Token limit reached: {tpm} tokens per minute; retry in {retry_after} s"
        )
