"""Running one reply on a worker: backend events in, stream frames and a final record out."""
import contextlib
import logging
import threading
import time

from django.conf import settings
from django.utils import timezone

from chat.models import Conversation, Message
from chat.prompting import generation_request
from chat.services import failed_frame, generation_fail, generation_finish
from inference.backends import BackendError, backend_get
from inference.streams import FinalFrame, GenerationStreamWriter, StreamClosed, cancel_key
from inference.types import Completion, GenerationRequest, TextChunk
from llmhub.redis import redis_client

log = logging.getLogger(__name__)
CANCEL_POLL_SECONDS = 0.1
# The chat page's token-probability view shows this many candidates per token.
CHAT_TOP_ALTERNATIVES = 5
# Backends asked for a chat reply's token log. Not the remote ones: some of their models
# refuse any request that asks for logprobs (OpenAI's reasoning models answer 400), and a
# reply must not fail for a view its reader may never open.
TOKEN_LOG_BACKENDS = ("llamacpp",)


def generation_claim(*, reply_id: int, worker_name: str) -> Message | None:
    """Move a queued reply to streaming on this worker; None if it is not queued any more
    (cancelled, reaped, or a second delivery of the same task)."""
    claimed = Message.objects.filter(pk=reply_id, status=Message.Status.QUEUED).update(
        status=Message.Status.STREAMING, worker=worker_name, started_at=timezone.now()
    )
    if not claimed:
        return None
    return Message.objects.select_related("conversation__model").get(pk=reply_id)


def _watch_cancel_flag(reply_id: int, request: GenerationRequest) -> threading.Event:
    """Poll the reply's cancel flag from a side thread; the engine checks the event."""
    done = threading.Event()
    key = cancel_key(reply_id)

    def watch() -> None:
        while not done.wait(CANCEL_POLL_SECONDS):
            if redis_client().exists(key):
                request.cancelled.set()
                return

    threading.Thread(target=watch, name=f"cancel-watch:{reply_id}", daemon=True).start()
    return done


def generation_run(*, reply_id: int, worker_name: str) -> None:
    reply = generation_claim(reply_id=reply_id, worker_name=worker_name)
    if reply is None:
        return
    request = generation_request(reply)
    token_log: list | None = [] if _keeps_token_log(reply, request) else None
    if token_log is not None:
        request.logprobs = CHAT_TOP_ALTERNATIVES
    writer = GenerationStreamWriter(
        redis_client(),
        reply_id,
        flush_seconds=settings.STREAM_FLUSH_SECONDS,
        ttl_seconds=settings.STREAM_TTL_SECONDS,
    )
    watching = _watch_cancel_flag(reply_id, request)
    try:
        final = _stream(request, writer, token_log)
        if generation_finish(reply_id=reply_id, final=final,
                             tokens=_token_log_kept(final, token_log)):
            writer.finish(final)
    except StreamClosed:
        log.info("reply %s was ended by the reaper while streaming", reply_id)
    except Exception as error:
        # The reaper never ends a reply whose worker is alive: end it here, with the reason.
        log.exception("reply %s failed on this worker", reply_id)
        with contextlib.suppress(Exception):  # Redis or the database may be what broke
            generation_fail(reply=reply, error=f"the worker hit an error: {error}")
    finally:
        watching.set()


def _keeps_token_log(reply: Message, request: GenerationRequest) -> bool:
    """A chat page's reply keeps its tokens for the probability view; an API reply keeps
    only what its caller asked for (in its params), in its stream."""
    return (reply.conversation.origin == Conversation.Origin.CHAT
            and "logprobs" not in reply.params
            and request.model.backend in TOKEN_LOG_BACKENDS)


def _token_log_kept(final: FinalFrame, token_log: list | None) -> list | None:
    """A chat reply keeps its tokens when it is done or cancelled; None (NULL: the view
    says this reply has none) when it failed or logged nothing."""
    if not token_log or final["status"] == "failed":
        return None
    return token_log


def _stream(request: GenerationRequest, writer: GenerationStreamWriter,
            token_log: list | None = None) -> FinalFrame:
    """Relay the backend's text to the stream; with a ``token_log``, collect the tokens'
    logprobs there instead of sending them in frames (the page reads them once the reply
    ends, and every frame stays as small as the text it carries)."""
    started = time.perf_counter()
    first_at: float | None = None
    parts: list[str] = []
    try:
        for event in backend_get(request.model.backend).stream(request):
            if isinstance(event, Completion):
                return _final_frame(event, "".join(parts), started, first_at)
            first_at = first_at or time.perf_counter()
            parts.append(event.text)
            logprobs = _logprobs_frame(event) if request.logprobs else None
            if token_log is not None and logprobs is not None:
                token_log.extend(_token_log_entries(event, logprobs))
                logprobs = None
            if event.text or logprobs:  # a token that ends mid-character brings no text yet
                writer.append(event.text, logprobs)
    except BackendError as error:
        return failed_frame(error.message, "".join(parts))
    return failed_frame("the backend ended without completing", "".join(parts))


def _token_log_entries(chunk: TextChunk, entries: list) -> list:
    """A chunk of one token is what that token added to the reply: its text there, so
    that the log's texts add up to the reply exactly. Alone, the two tokens of a character
    split in two read as U+FFFD each; in the log the second holds the whole character and
    the first holds "". (A chat reply has no stop strings, which may hold text back.)"""
    if len(entries) == 1:
        entries[0][0] = chunk.text
    return entries


def _logprobs_frame(chunk: TextChunk) -> list:
    """Compact JSON for a chunk's tokens: [text, logprob, [[alternative, logprob], ...]]."""
    return [[entry.token, round(entry.logprob, 5),
             [[token, round(logprob, 5)] for token, logprob in entry.top]]
            for entry in chunk.logprobs]


def _final_frame(
    completion: Completion, text: str, started: float, first_at: float | None
) -> FinalFrame:
    per_second = None
    if completion.decode_seconds > 0 and completion.completion_tokens > 1:
        # The first token's time belongs to the prompt; the rest is decode.
        per_second = (completion.completion_tokens - 1) / completion.decode_seconds
    cancelled = completion.finish_reason == "cancelled"
    return FinalFrame(
        type="final",
        seq=0,
        status="cancelled" if cancelled else "done",
        text=text,
        error="",
        finish_reason=completion.finish_reason,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        ttft_ms=round((first_at - started) * 1000, 1) if first_at else None,
        tokens_per_second=round(per_second, 1) if per_second else None,
        decode_ms=round(completion.decode_seconds * 1000, 1),
        total_ms=round((time.perf_counter() - started) * 1000, 1),
    )
