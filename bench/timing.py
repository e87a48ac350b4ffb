"""When each stream's tokens came, and the throughput figures computed from that.

Every side (the bare loop, the engine, the HTTP servers) records the same things per
stream, so one set of formulas serves all of them:

* per-stream decode tokens/s: (tokens - 1) / (last token - first token); the first token's
  time belongs to the prompt.
* aggregate tokens/s: all streams' tokens / (last stream's end - first stream's first
  token), the throughput a crowd of users sees together.
* decode aggregate tokens/s: (all tokens - one per stream) / (last token - first token);
  the decode phase only, which is what the bare loop reports (all its prompts are in before
  its first decode step).
"""
import dataclasses
import math
import statistics


@dataclasses.dataclass(frozen=True)
class StreamTiming:
    tokens: int
    first_at: float | None  # perf_counter() when the first token arrived
    last_at: float | None  # ... the last token
    end_at: float  # ... the stream ended (its Completion, or the end of the response)
    text: str
    prompt_tokens: int | None = None
    chunks: int | None = None  # streamed pieces, where tokens were counted otherwise

    @property
    def decode_tokens_per_second(self) -> float:
        if self.tokens < 2 or self.first_at is None or self.last_at <= self.first_at:
            return math.nan
        return (self.tokens - 1) / (self.last_at - self.first_at)


@dataclasses.dataclass(frozen=True)
class ConcurrentRun:
    streams: tuple[StreamTiming, ...]
    others_cpu: float = 0.0  # cores other processes used meanwhile (bench.quiet)
    attempts: int = 1  # runs it took to get one that others did not disturb

    @property
    def total_tokens(self) -> int:
        return sum(s.tokens for s in self.streams)

    @property
    def first_token_at(self) -> float:
        return min(s.first_at for s in self.streams if s.first_at is not None)

    @property
    def aggregate(self) -> float:
        window = max(s.end_at for s in self.streams) - self.first_token_at
        return self.total_tokens / window if window > 0 else math.nan

    @property
    def decode_aggregate(self) -> float:
        window = max(s.last_at for s in self.streams if s.last_at) - self.first_token_at
        decoded = sum(max(s.tokens - 1, 0) for s in self.streams)
        return decoded / window if window > 0 else math.nan

    @property
    def per_stream(self) -> float:
        return median(s.decode_tokens_per_second for s in self.streams)

    @property
    def token_counts(self) -> list[int]:
        return [s.tokens for s in self.streams]


def median(values) -> float:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else math.nan
