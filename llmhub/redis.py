"""One Redis client per process, sync for services and tasks, async for consumers."""
from functools import lru_cache

import redis
import redis.asyncio
from django.conf import settings


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(
        settings.REDIS_URL, decode_responses=True, socket_timeout=settings.REDIS_SOCKET_TIMEOUT
    )


def redis_async_client() -> redis.asyncio.Redis:
    # An asyncio client is bound to the event loop that uses it: make one per consumer.
    return redis.asyncio.Redis.from_url(
        settings.REDIS_URL, decode_responses=True, socket_timeout=settings.REDIS_SOCKET_TIMEOUT
    )
