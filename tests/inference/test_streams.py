"""Generation streams in a real Redis: coalescing, sequence numbers, resuming, closing."""
import asyncio
import json

import pytest

from inference.streams import (
    GenerationStreamWriter,
    StreamClosed,
    generation_stream_read,
    stream_final_append,
    stream_key,
)
from llmhub.redis import redis_async_client, redis_client


def final(text: str) -> dict:
    return {"type": "final", "seq": 0, "status": "done", "text": text, "error": "",
            "finish_reason": "stop", "prompt_tokens": 1, "completion_tokens": 1,
            "ttft_ms": 1.0, "tokens_per_second": 1.0}


def read_all(generation_id: int, after_seq: int = 0) -> list[dict]:
    async def collect():
        client = redis_async_client()
        try:
            return [f async for f in generation_stream_read(client, generation_id,
                                                             after_seq=after_seq, block_ms=100)
                    if f is not None]
        finally:
            await client.aclose()

    return asyncio.run(asyncio.wait_for(collect(), 10))


@pytest.fixture
def writer(request) -> GenerationStreamWriter:
    generation_id = abs(hash(request.node.name)) % 10**9
    redis_client().delete(stream_key(generation_id))
    return GenerationStreamWriter(redis_client(), generation_id, flush_seconds=3600,
                                  ttl_seconds=60)


def test_the_first_text_goes_out_at_once_and_the_rest_is_coalesced(writer):
    for piece in ["Hel", "lo", ", ", "world"]:
        writer.append(piece)
    writer.finish(final("Hello, world"))
    frames = read_all(int(writer.key.rsplit(":", 1)[1]))
    assert [(f["type"], f["seq"]) for f in frames] == [("delta", 1), ("delta", 2), ("final", 3)]
    assert [f.get("text") for f in frames[:2]] == ["Hel", "lo, world"]


def test_a_reader_resumes_after_the_last_frame_it_saw(writer):
    generation_id = int(writer.key.rsplit(":", 1)[1])
    writer.flush_seconds = 0
    for piece in "abcdef":
        writer.append(piece)
    writer.finish(final("abcdef"))
    rest = read_all(generation_id, after_seq=4)
    assert [f["seq"] for f in rest] == [5, 6, 7]
    assert "".join(f["text"] for f in rest if f["type"] == "delta") == "ef"


def test_a_finished_stream_expires(writer):
    writer.append("x")
    writer.finish(final("x"))
    assert 0 < redis_client().ttl(writer.key) <= 60


def test_a_writer_cannot_add_after_the_reaper_closed_the_stream(writer):
    generation_id = int(writer.key.rsplit(":", 1)[1])
    writer.append("partial")
    stream_final_append(redis_client(), generation_id, {**final(""), "status": "failed"},
                        ttl_seconds=60)
    writer.flush_seconds = 0
    with pytest.raises(StreamClosed):
        writer.append(" more")
    frames = read_all(generation_id)
    assert [f["type"] for f in frames] == ["delta", "final"]
    assert frames[-1]["seq"] == 2 and frames[-1]["status"] == "failed"


def test_frames_are_json_with_their_sequence_number(writer):
    writer.append("é🐉")
    entry_id, fields = redis_client().xrange(writer.key)[0]
    assert entry_id == "0-1"
    assert json.loads(fields["frame"]) == {"type": "delta", "seq": 1, "text": "é🐉"}
