"""The HTTP plumbing every remote backend shares (OpenAI-compatible servers, OpenRouter,
Ollama): one pooled client, the key read from the worker's environment at request time,
and every failure turned into a BackendError whose message a user can act on.
"""
import itertools
import json
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import httpx

from inference.backends import Backend, BackendError
from inference.types import (
    Completion,
    GenerationEvent,
    GenerationRequest,
    ModelSpec,
    TokenLogprob,
)

CONNECT_SECONDS = 10.0
# Refusals the same request would meet again: retrying them only delays the user's answer.
PERMANENT_STATUSES = frozenset({400, 401, 402, 403, 404, 413, 422})
QUOTE_CHARS = 80  # how much of a bad line an error message repeats
DRAIN_LINES = 10  # at most this many lines read after the end marker
MESSAGE_CHARS = 300  # how much of a server's own error message is passed on
# What a well-formed JSON line of the wrong shape raises while it is read.
SHAPE_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)


class RemoteBackend(Backend):
    """A backend that streams replies from another server over HTTP.

    Subclasses say where to post (``request_body``) and how to read the reply's lines
    (``read_reply``); this class owns the connection, the key and the failures.
    """

    default_base_url = ""

    def __init__(self) -> None:
        # One client per backend, shared by the worker's threads: httpx.Client is thread-safe
        # and keeps connections to each remote open between replies.
        self._client = httpx.Client()

    def stream(self, request: GenerationRequest) -> Iterator[GenerationEvent]:
        base_url = self.base_url(request.model)
        try:
            yield from self._stream(request, base_url)
        except httpx.HTTPError as error:
            raise transport_error(error, base_url, request.model.timeout_seconds) from error
        except httpx.InvalidURL as error:
            raise BackendError(f"{base_url!r} is not a valid URL: {error}", True) from error

    def _stream(self, request: GenerationRequest, base_url: str) -> Iterator[GenerationEvent]:
        if request.cancelled.is_set():
            yield Completion("cancelled", 0, 0, 0.0)
            return
        path, body = self.request_body(request)
        headers = self.request_headers(request.model)
        timeout = httpx.Timeout(request.model.timeout_seconds, connect=CONNECT_SECONDS)
        with self._client.stream(
            "POST", base_url + path, json=body, headers=headers, timeout=timeout
        ) as response:
            if response.is_error:
                response.read()
                raise status_error(response, base_url)
            lines = body_lines(response, base_url)
            for event in self.read_reply(lines, request, base_url):
                if isinstance(event, Completion) and event.finish_reason == "cancelled":
                    # Closing mid-body is how a remote learns to stop generating; done before
                    # the reader gets the event, which may be the last it asks for.
                    response.close()
                    yield event
                    return
                yield event
            body_drain(lines)

    def base_url(self, spec: ModelSpec) -> str:
        base_url = (spec.base_url or self.default_base_url).rstrip("/")
        if not base_url:
            raise BackendError(f"{spec.name} has no base URL to send requests to", True)
        return base_url

    def request_headers(self, spec: ModelSpec) -> dict[str, str]:
        headers = dict(spec.headers)
        key = api_key(spec)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def request_body(self, request: GenerationRequest) -> tuple[str, dict]:
        """The path under the base URL to post to, and the JSON body."""
        raise NotImplementedError

    def read_reply(
        self, lines: Iterator[str], request: GenerationRequest, base_url: str
    ) -> Iterator[GenerationEvent]:
        """Turn the body's lines into TextChunks and one Completion; stop early if cancelled."""
        raise NotImplementedError


def api_key(spec: ModelSpec) -> str | None:
    if not spec.api_key_env:
        return None
    key = os.environ.get(spec.api_key_env)
    if not key:
        raise BackendError(f"the environment variable {spec.api_key_env}, which holds the API "
                           f"key for {spec.name}, is not set on this worker", permanent=True)
    return key


def body_lines(response: httpx.Response, base_url: str) -> Iterator[str]:
    try:
        yield from response.iter_lines()
    except (httpx.RemoteProtocolError, httpx.ReadError) as error:
        raise BackendError(f"{base_url} closed the stream mid-reply") from error


def body_drain(lines: Iterator[str]) -> None:
    """Read what follows the reply's end marker, so that the connection is kept for the next
    reply (a new TLS handshake per reply is slow); a remote that goes on loses it."""
    try:
        for _ in itertools.islice(lines, DRAIN_LINES):
            pass
    except (BackendError, httpx.HTTPError):
        pass  # the reply is whole; only the connection is lost


def transport_error(error: httpx.HTTPError, base_url: str, timeout: float) -> BackendError:
    said = str(error) or type(error).__name__
    if isinstance(error, httpx.ConnectTimeout):
        return BackendError(f"cannot reach {base_url}: no connection in {CONNECT_SECONDS:g} s")
    if isinstance(error, httpx.ConnectError):
        return BackendError(f"cannot reach {base_url}: {said}")
    if isinstance(error, httpx.ReadTimeout):
        return BackendError(f"{base_url} sent nothing for {timeout:g} s")
    if isinstance(error, httpx.UnsupportedProtocol):
        return BackendError(f"{base_url} is not an http:// or https:// URL", permanent=True)
    if isinstance(error, httpx.RemoteProtocolError):
        return BackendError(f"{base_url} closed the connection without answering: {said}")
    return BackendError(f"the request to {base_url} failed: {said}")


def status_error(response: httpx.Response, base_url: str) -> BackendError:
    message = f"{base_url} answered {response.status_code} {response.reason_phrase}"
    if said := server_error_message(response.content):
        message += f": {said}"
    return BackendError(message, permanent=response.status_code in PERMANENT_STATUSES)


def server_error_message(body: bytes) -> str:
    try:
        return error_text(json.loads(body))
    except ValueError:
        text = body.decode(errors="replace").strip()
        # A proxy's HTML error page says nothing the reader of a chat could use.
        return "" if text.startswith("<") else shorten(text)


def error_text(data: object) -> str:
    """The message in a server's error object: OpenAI's {"error": {"message": ...}},
    Ollama's {"error": "..."}, FastAPI's {"detail": "..."}; "" when there is none."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error") or data.get("detail") or data.get("message")
    if isinstance(error, dict):
        error = error.get("message")
    return shorten(error) if isinstance(error, str) else ""


def shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def json_object(text: str, base_url: str) -> dict:
    try:
        data = json.loads(text)
    except ValueError:
        raise BackendError(f"{base_url} sent invalid JSON: {text[:QUOTE_CHARS]}") from None
    if not isinstance(data, dict):
        raise unexpected_reply(text, base_url)
    return data


def unexpected_reply(text: str, base_url: str) -> BackendError:
    return BackendError(f"{base_url} sent an unexpected reply: {text[:QUOTE_CHARS]}")


def remote_error(data: dict, base_url: str) -> BackendError:
    """A failure the remote reports inside a stream that had started well."""
    said = error_text(data) or shorten(json.dumps(data.get("error")))
    return BackendError(f"{base_url} reported an error: {said}")


def token_logprobs(entries: Iterable[dict], top: int) -> tuple[TokenLogprob, ...]:
    """Logprobs as OpenAI's chat API and Ollama give them: a list of {token, logprob,
    top_logprobs: [{token, logprob}]}."""
    return tuple(
        TokenLogprob(
            entry["token"],
            float(entry["logprob"]),
            best(((alt["token"], alt["logprob"]) for alt in entry.get("top_logprobs") or ()), top),
        )
        for entry in entries
    )


def best(alternatives: Iterable[tuple[str, float]], top: int) -> tuple[tuple[str, float], ...]:
    # Servers may add the sampled token to the list when it was not among the best (llama.cpp's
    # server does), so the list is sorted and cut here rather than trusted.
    ranked = sorted(((token, float(logprob)) for token, logprob in alternatives),
                    key=lambda pair: -pair[1])
    return tuple(ranked[:top])


@dataclass
class ReplyTally:
    """What a reply has produced so far, for its Completion."""

    chunks: int = 0
    first_at: float = 0.0

    def text_arrived(self) -> None:
        self.chunks += 1
        if not self.first_at:
            self.first_at = time.perf_counter()

    def decode_seconds(self) -> float:
        return time.perf_counter() - self.first_at if self.first_at else 0.0

    def cancelled(self) -> Completion:
        return Completion("cancelled", 0, self.chunks, self.decode_seconds())
