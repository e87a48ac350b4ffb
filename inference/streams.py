"""A generation's frames in its Redis Stream ``llmhub:gen:<id>`` (DESIGN.md invariant 1).

Frames carry their sequence number both in the body and as the entry id ``0-<seq>``, so a
reader resumes after the last frame it saw with a plain XREAD from ``0-<seq>``.
"""
import json
import time
from collections.abc import AsyncIterator
from typing import Literal, NotRequired, TypedDict

import redis
import redis.asyncio


class DeltaFrame(TypedDict):
    type: Literal["delta"]
    seq: int
    text: str
    # Only when the request asked for them: per token, [text, logprob, [[alt, logprob]...]].
    logprobs: NotRequired[list]


class FinalFrame(TypedDict):
    type: Literal["final"]
    seq: int
    status: Literal["done", "failed", "cancelled"]
    text: str
    error: str
    finish_reason: str
    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_ms: float | None
    tokens_per_second: float | None
    worker: NotRequired[str]
    decode_ms: NotRequired[float | None]  # first token to last (the APIs' eval duration)
    total_ms: NotRequired[float | None]  # claim to final frame, on the worker


Frame = DeltaFrame | FinalFrame


def stream_key(generation_id: int) -> str:
    return f"llmhub:gen:{generation_id}"


def cancel_key(generation_id: int) -> str:
    return f"llmhub:cancel:{generation_id}"


class StreamClosed(Exception):
    """Someone else (the watchdog) already wrote this generation's final frame."""


class GenerationStreamWriter:
    """Coalesces text into frames at most every ``flush_seconds``; the first flushes at once."""

    def __init__(
        self, client: redis.Redis, generation_id: int, *, flush_seconds: float, ttl_seconds: int
    ) -> None:
        self.client = client
        self.key = stream_key(generation_id)
        self.flush_seconds = flush_seconds
        self.ttl_seconds = ttl_seconds
        self.seq = 0
        self.pending: list[str] = []
        self.pending_logprobs: list | None = None
        self.last_flush: float | None = None

    def append(self, text: str, logprobs: list | None = None) -> None:
        self.pending.append(text)
        if logprobs is not None:
            self.pending_logprobs = (self.pending_logprobs or []) + logprobs
        if self.last_flush is None or time.monotonic() - self.last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        frame: DeltaFrame = {"type": "delta", "seq": self.seq + 1, "text": "".join(self.pending)}
        if self.pending_logprobs is not None:
            frame["logprobs"] = self.pending_logprobs
        self.pending.clear()
        self.pending_logprobs = None
        self._add(frame)
        self.last_flush = time.monotonic()

    def finish(self, final: FinalFrame) -> None:
        self.flush()
        final["seq"] = self.seq + 1
        self._add(final)
        self.client.expire(self.key, self.ttl_seconds)

    def _add(self, frame: Frame) -> None:
        try:
            self.client.xadd(self.key, {"frame": json.dumps(frame)}, id=f"0-{frame['seq']}")
        except redis.ResponseError as error:
            if "equal or smaller" in str(error):
                raise StreamClosed(self.key) from error
            raise
        if self.seq == 0:
            # A stream left behind by a dead worker still expires, a day later.
            self.client.expire(self.key, 86400)
        self.seq = frame["seq"]


def stream_final_append(client: redis.Redis, generation_id: int, final: FinalFrame, *,
                        ttl_seconds: int) -> None:
    """Close a stream from outside its writer (the watchdog), after whatever it holds."""
    key = stream_key(generation_id)
    last = client.xrevrange(key, count=1)
    final["seq"] = json.loads(last[0][1]["frame"])["seq"] + 1 if last else 1
    # An automatic id sorts after every "0-<seq>" id, so a late write by the worker
    # fails with StreamClosed instead of landing after the final frame.
    client.xadd(key, {"frame": json.dumps(final)}, id="*")
    client.expire(key, ttl_seconds)


async def generation_stream_read(
    client: redis.asyncio.Redis, generation_id: int, *, after_seq: int = 0, block_ms: int = 5000
) -> AsyncIterator[Frame | None]:
    """Yield frames after ``after_seq`` until the final one; None when ``block_ms`` pass idle."""
    key = stream_key(generation_id)
    last_id = f"0-{after_seq}"
    while True:
        reply = await client.xread({key: last_id}, block=block_ms, count=200)
        if not reply:
            yield None
            continue
        for entry_id, fields in reply[0][1]:
            last_id = entry_id
            frame = json.loads(fields["frame"])
            yield frame
            if frame["type"] == "final":
                return
