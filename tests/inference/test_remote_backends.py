"""The remote backends against real servers: llama.cpp's own OpenAI-compatible server for
the OpenAI protocol, and a small NDJSON server written here for Ollama's.

There is no Ollama binary on the test machines. Once the hub's own /api speaks Ollama's
protocol, it becomes the real server the Ollama tests run against; the small server stays
for the misbehaviours no honest server shows.
"""
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from inference.backends import BackendError, backend_get
from inference.backends.ollama import OllamaBackend
from inference.backends.openai_compat import OpenAIBackend, OpenRouterBackend
from inference.types import Completion, GenerationRequest, ModelSpec, TextChunk
from models_registry.demo import demo_model_path
from tests.processes import free_port, wait_for

KEY_ENV = "LLMHUB_TEST_REMOTE_KEY"
KEY = "sk-test-remote-0123456789"
QUESTION = [{"role": "user", "content": "Name three colours."}]


# --- the servers --------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def remote_key():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, KEY)
        yield


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server, refusing requests without KEY."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(demo_model_path()),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--api_key", KEY]
    log = open(tmp_path_factory.mktemp("llama-server") / "server.log", "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}/v1"

    def answers() -> bool:
        try:
            return httpx.get(f"{base_url}/models", timeout=2).status_code in (200, 401)
        except httpx.TransportError:
            return False

    try:
        wait_for(answers, timeout=120, what="llama_cpp.server", process=process)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


WORDS = ["Hello", " from", " a", " small", " server", "."]


class FakeRemote(ThreadingHTTPServer):
    """Speaks OpenAI's SSE or Ollama's NDJSON, well or badly: the first segment of the path
    picks the behaviour (``/ok/v1/chat/completions``, ``/truncated/api/chat``...)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeRemoteHandler)
        self.requests: list[dict] = []
        self.reader_left = threading.Event()
        self.stopping = threading.Event()

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a reader that left: expected
            super().handle_error(request, client_address)

    def url(self, mode: str, protocol: str) -> str:
        suffix = "/v1" if protocol == "openai" else ""
        return f"http://127.0.0.1:{self.server_port}/{mode}{suffix}"


@pytest.fixture(scope="module")
def remote() -> Iterator[FakeRemote]:
    server = FakeRemote()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.stopping.set()
    server.shutdown()
    server.server_close()


class FakeRemoteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # chunked bodies and kept-alive connections, as real servers
    server: FakeRemote

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        mode, _, endpoint = self.path.strip("/").partition("/")
        endpoint = "/" + endpoint.removeprefix("v1/")
        self.server.requests.append({
            "endpoint": endpoint, "body": body, "port": self.client_address[1],
            "headers": {name.lower(): value for name, value in self.headers.items()},
        })
        ollama = endpoint.startswith("/api/")
        if mode in ERRORS:
            return self.answer_error(*ERRORS[mode][ollama])
        lines = (ollama_lines if ollama else openai_lines)(endpoint, body)
        getattr(self, f"send_{mode}")(lines, ollama)

    def answer_error(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def start_body(self, ollama: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson" if ollama else "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def send_line(self, line: str, ollama: bool) -> None:
        data = (line + "\n" if ollama else f"data: {line}\n\n").encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def end_body(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def send_ok(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        for line in lines:
            self.send_line(line, ollama)
        self.end_body()

    def send_slow(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        try:
            for line in lines[:1] * 200:
                self.send_line(line, ollama)
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            self.server.reader_left.set()
        self.close_connection = True

    def send_truncated(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        for line in lines[:2]:
            self.send_line(line, ollama)
        self.close_connection = True  # closed with no final chunk: the body is cut

    def send_unended(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        for line in lines[:2]:
            self.send_line(line, ollama)
        self.end_body()  # a complete HTTP body, but no [DONE] and no "done": true

    def send_interrupted(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)  # as llama.cpp's server when another request comes in
        for line in [*lines[:2], "[DONE]"]:
            self.send_line(line, ollama)
        self.end_body()

    def send_silent(self, lines: list[str], ollama: bool) -> None:
        self.server.stopping.wait(30)  # longer than any reader's timeout in the tests
        self.close_connection = True

    def send_stalls(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        self.send_line(lines[0], ollama)
        self.server.stopping.wait(30)
        self.close_connection = True

    def send_garbage(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        self.send_line(lines[0], ollama)
        self.send_line('{"choices": [{"delta": oops', ollama)
        self.end_body()

    def send_misshapen(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        self.send_line(json.dumps({"message": "hi"} if ollama else {"choices": "hi"}), ollama)
        self.end_body()

    def send_late_error(self, lines: list[str], ollama: bool) -> None:
        self.start_body(ollama)
        self.send_line(lines[0], ollama)
        error = "model runner stopped" if ollama else {"message": "model runner stopped"}
        self.send_line(json.dumps({"error": error}), ollama)
        self.end_body()


ERRORS = {  # mode: (OpenAI's answer, Ollama's answer)
    "broken": ((500, {"error": {"message": "the GPU caught fire", "type": "server_error"}}),
               (500, {"error": "the GPU caught fire"})),
    "missing": ((404, {"error": {"message": "The model `gpt-9` does not exist"}}),
                (404, {"error": "model 'gpt-9' not found, try pulling it first"})),
}


def reply_words(body: dict) -> tuple[list[str], str]:
    limit = body.get("max_tokens") or body.get("options", {}).get("num_predict") or 100
    return WORDS[:limit], "length" if limit < len(WORDS) else "stop"


def alternatives(word: str) -> list[dict]:
    # Worst first, as a server may send them; the backend ranks them.
    return [{"token": " maybe", "logprob": -3.0}, {"token": word, "logprob": -0.1},
            {"token": " perhaps", "logprob": -2.0}]


def openai_lines(endpoint: str, body: dict) -> list[str]:
    words, finish = reply_words(body)
    chat = endpoint == "/chat/completions"
    lines = []
    for word in words:
        choice: dict = {"index": 0, "finish_reason": None}
        choice |= {"delta": {"content": word}} if chat else {"text": word}
        if body.get("logprobs") and chat:
            choice["logprobs"] = {"content": [
                {"token": word, "logprob": -0.1, "top_logprobs": alternatives(word)}]}
        lines.append({"object": "chat.completion.chunk", "model": body["model"],
                      "choices": [choice]})
    lines.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    if body.get("stream_options", {}).get("include_usage"):
        lines.append({"choices": [], "usage": {
            "prompt_tokens": 12, "completion_tokens": len(words), "total_tokens": 12 + len(words),
            "prompt_tokens_details": {"cached_tokens": 4}}})
    return [json.dumps(line) for line in lines] + ["[DONE]"]


def ollama_lines(endpoint: str, body: dict) -> list[str]:
    words, finish = reply_words(body)
    chat = endpoint == "/api/chat"
    lines = []
    for word in [*words, ""]:
        line: dict = {"model": body["model"], "created_at": "2025-06-01T12:00:00.000000Z"}
        line |= {"message": {"role": "assistant", "content": word}} if chat else {"response": word}
        if body.get("logprobs") and word:
            line["logprobs"] = [{"token": word, "logprob": -0.1,
                                 "top_logprobs": alternatives(word)}]
        lines.append(line | {"done": False})
    lines[-1] |= {"done": True, "done_reason": finish, "total_duration": 900_000_000,
                  "load_duration": 100_000_000, "prompt_eval_count": 12,
                  "prompt_eval_duration": 50_000_000, "eval_count": len(words),
                  "eval_duration": 250_000_000}
    return [json.dumps(line) for line in lines]


# --- helpers ------------------------------------------------------------------------------
def remote_spec(base_url: str, backend: str = "openai", **changes) -> ModelSpec:
    fields = {"base_url": base_url, "remote_name": "smollm2", "api_key_env": KEY_ENV,
              "timeout_seconds": 60} | changes
    return ModelSpec(name="smollm2-remote", backend=backend, file_path="", context_length=2048,
                     **fields)


def generate(backend, spec: ModelSpec, **fields) -> tuple[str, list[TextChunk], Completion]:
    fields.setdefault("messages", QUESTION)
    events = list(backend.stream(GenerationRequest(model=spec, **fields)))
    *chunks, completion = events
    assert all(isinstance(chunk, TextChunk) for chunk in chunks)
    assert isinstance(completion, Completion)
    return "".join(chunk.text for chunk in chunks), chunks, completion


@pytest.fixture(scope="module")
def openai() -> OpenAIBackend:
    return OpenAIBackend()


@pytest.fixture(scope="module")
def ollama() -> OllamaBackend:
    return OllamaBackend()


def test_the_remote_backends_are_found_by_name():
    assert isinstance(backend_get("openai"), OpenAIBackend)
    assert isinstance(backend_get("openrouter"), OpenRouterBackend)
    assert isinstance(backend_get("ollama"), OllamaBackend)


# --- OpenAI's protocol, against llama.cpp's server ----------------------------------------
def test_a_chat_reply_streams_text_then_one_completion(openai, llama_server):
    text, chunks, completion = generate(openai, remote_spec(llama_server), max_tokens=40,
                                        temperature=0.0)
    assert text.strip() and len(chunks) > 1
    assert completion.finish_reason in ("stop", "length")
    # llama.cpp's server sends no usage chunk: tokens are counted as chunks, prompt unknown.
    assert completion.completion_tokens == len(chunks)
    assert completion.prompt_tokens == 0
    assert completion.decode_seconds > 0


def test_a_raw_prompt_is_completed_without_a_chat_template(openai, llama_server):
    text, _, _ = generate(openai, remote_spec(llama_server), messages=[],
                          prompt="The capital of France is", max_tokens=4, temperature=0.0)
    assert text.startswith(" Paris")


def test_max_tokens_ends_the_reply_with_length(openai, llama_server):
    _, chunks, completion = generate(openai, remote_spec(llama_server), max_tokens=3)
    assert completion.finish_reason == "length"
    assert completion.completion_tokens == 3 == len(chunks)


def test_a_stop_string_ends_the_reply_before_it(openai, llama_server):
    spec = remote_spec(llama_server)
    full, _, _ = generate(openai, spec, max_tokens=30, temperature=0.0)
    stop = full.split()[3]
    text, _, completion = generate(openai, spec, max_tokens=30, temperature=0.0, stop=(stop,))
    assert text == full[: full.index(stop)]
    assert completion.finish_reason == "stop"


def test_a_seed_makes_a_sampled_reply_repeatable(openai, llama_server):
    spec = remote_spec(llama_server)
    greedy = [generate(openai, spec, max_tokens=20, temperature=0.0)[0] for _ in range(2)]
    sampled = [generate(openai, spec, max_tokens=20, temperature=1.0, seed=7)[0]
               for _ in range(2)]
    assert greedy[0] == greedy[1]
    assert sampled[0] == sampled[1]


def test_logprobs_come_with_the_best_alternatives_first(openai, llama_server):
    for fields in ({}, {"messages": [], "prompt": "The capital of France is"}):
        text, chunks, _ = generate(openai, remote_spec(llama_server), max_tokens=8,
                                   temperature=0.0, logprobs=2, **fields)
        tokens = [logprob for chunk in chunks for logprob in chunk.logprobs]
        assert "".join(token.token for token in tokens) == text
        for token in tokens:
            assert len(token.top) == 2
            # Not always the chosen token: the server's own repeat penalty (1.1 unless told
            # otherwise, which OpenAI's protocol cannot do) acts after the logprobs are taken.
            assert token.top[0][1] >= token.top[1][1] and token.top[0][1] >= token.logprob


def test_json_output_asks_the_server_for_a_json_object(openai, llama_server):
    question = [{"role": "user", "content": "Describe a cat as a JSON object."}]
    text, _, completion = generate(openai, remote_spec(llama_server), messages=question,
                                   max_tokens=80, temperature=0.0, json_output=True)
    assert completion.finish_reason == "stop"
    assert isinstance(json.loads(text), dict)


def test_cancelling_ends_the_reply_at_the_next_chunk(openai, llama_server):
    spec = remote_spec(llama_server)
    request = GenerationRequest(model=spec, messages=QUESTION, max_tokens=1000)
    events = openai.stream(request)
    assert isinstance(next(events), TextChunk)
    request.cancelled.set()
    started = time.monotonic()
    completion = next(event for event in events if isinstance(event, Completion))
    assert completion.finish_reason == "cancelled"
    assert time.monotonic() - started < 2
    # The server learnt the reader was gone and serves the next reply.
    assert generate(openai, spec, max_tokens=3)[2].finish_reason == "length"


def test_a_wrong_key_is_refused_for_good_and_never_shown(openai, llama_server, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-charlie-guessed-this")
    with pytest.raises(BackendError, match="answered 401 Unauthorized: Invalid API key") as error:
        generate(openai, remote_spec(llama_server))
    assert error.value.permanent
    assert "sk-charlie" not in error.value.message


def test_a_missing_key_variable_is_a_permanent_error_naming_it(openai, remote, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    count = len(remote.requests)
    with pytest.raises(BackendError, match=f"environment variable {KEY_ENV}") as error:
        generate(openai, remote_spec(remote.url("ok", "openai")))
    assert error.value.permanent
    assert len(remote.requests) == count  # nothing was sent without the key


# --- OpenAI's protocol, against the small server ------------------------------------------
def test_usage_comes_from_the_usage_chunk_when_the_server_sends_one(openai, remote):
    text, _, completion = generate(openai, remote_spec(remote.url("ok", "openai")))
    assert text == "Hello from a small server."
    assert (completion.prompt_tokens, completion.completion_tokens) == (12, 6)
    assert completion.cached_tokens == 4
    sent = remote.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert sent["body"]["stream_options"] == {"include_usage": True}
    assert sent["body"]["model"] == "smollm2"


def test_the_request_carries_the_sampling_settings_and_json_mode(openai, remote):
    generate(openai, remote_spec(remote.url("ok", "openai")), max_tokens=2, temperature=0.3,
             top_p=0.8, seed=5, stop=("\n",), logprobs=1, json_output=True)
    body = remote.requests[-1]["body"]
    assert {key: body[key] for key in ("max_tokens", "temperature", "top_p", "seed", "stop")} == {
        "max_tokens": 2, "temperature": 0.3, "top_p": 0.8, "seed": 5, "stop": ["\n"]}
    assert (body["logprobs"], body["top_logprobs"]) == (True, 1)
    assert body["response_format"] == {"type": "json_object"}
    assert "top_k" not in body  # OpenAI refuses parameters it does not know


def test_openrouter_sends_attribution_headers_unless_the_model_names_its_own(remote):
    backend = OpenRouterBackend()
    generate(backend, remote_spec(remote.url("ok", "openai"), backend="openrouter"))
    sent = remote.requests[-1]
    assert sent["headers"]["http-referer"] == "https://github.com/llmhub/llmhub"
    assert sent["headers"]["x-title"] == "llmhub"
    assert sent["body"]["top_k"] == 40 and sent["body"]["repetition_penalty"] == 1.0

    spec = remote_spec(remote.url("ok", "openai"), backend="openrouter",
                       headers=(("x-title", "Team chat"),))
    generate(backend, spec)
    assert remote.requests[-1]["headers"]["x-title"] == "Team chat"
    assert backend.base_url(ModelSpec("m", "openrouter", "", 0)) == "https://openrouter.ai/api/v1"


def test_replies_on_several_threads_share_one_backend(openai, remote):
    spec = remote_spec(remote.url("ok", "openai"))
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(generate(openai, spec)[0]))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results == ["Hello from a small server."] * 4


# --- Ollama's protocol, against the small server ------------------------------------------
def test_an_ollama_chat_streams_text_then_the_last_lines_counts(ollama, remote):
    spec = remote_spec(remote.url("ok", "ollama"), backend="ollama")
    text, chunks, completion = generate(ollama, spec, seed=3, stop=("###",))
    assert text == "Hello from a small server." and len(chunks) == 6
    assert completion == Completion("stop", 12, 6, 0.25)
    sent = remote.requests[-1]
    assert sent["endpoint"] == "/api/chat"
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"  # an Ollama behind a proxy
    assert sent["body"]["messages"] == QUESTION and sent["body"]["model"] == "smollm2"
    assert sent["body"]["options"] == {
        "num_predict": 512, "temperature": 0.7, "top_p": 0.95, "top_k": 40, "min_p": 0.05,
        "repeat_penalty": 1.0, "seed": 3, "stop": ["###"]}
    assert "format" not in sent["body"]


def test_an_ollama_raw_prompt_goes_to_generate(ollama, remote):
    spec = remote_spec(remote.url("ok", "ollama"), backend="ollama")
    text, _, completion = generate(ollama, spec, messages=[], prompt="Once upon", max_tokens=2,
                                   json_output=True)
    assert text == "Hello from"
    assert completion.finish_reason == "length"
    body = remote.requests[-1]["body"]
    assert remote.requests[-1]["endpoint"] == "/api/generate"
    assert (body["prompt"], body["raw"], body["format"]) == ("Once upon", True, "json")


def test_ollama_logprobs_are_ranked_and_cut(ollama, remote):
    spec = remote_spec(remote.url("ok", "ollama"), backend="ollama")
    _, chunks, _ = generate(ollama, spec, logprobs=2)
    first = chunks[0].logprobs[0]
    assert (first.token, first.logprob) == ("Hello", -0.1)
    assert first.top == (("Hello", -0.1), (" perhaps", -2.0))
    assert remote.requests[-1]["body"]["top_logprobs"] == 2


# --- both protocols, well and badly served -----------------------------------------------
BACKENDS = {"openai": OpenAIBackend, "ollama": OllamaBackend}


@pytest.mark.parametrize("protocol", BACKENDS)
def test_a_finished_reply_leaves_its_connection_for_the_next(protocol, remote):
    backend, spec = BACKENDS[protocol](), remote_spec(remote.url("ok", protocol), protocol)
    generate(backend, spec)
    generate(backend, spec)
    assert remote.requests[-1]["port"] == remote.requests[-2]["port"]


@pytest.mark.parametrize("protocol", BACKENDS)
def test_cancelling_closes_the_connection(protocol, remote):
    remote.reader_left.clear()
    request = GenerationRequest(model=remote_spec(remote.url("slow", protocol), protocol),
                                messages=QUESTION)
    events = BACKENDS[protocol]().stream(request)
    assert isinstance(next(events), TextChunk)
    request.cancelled.set()
    assert next(events).finish_reason == "cancelled"
    assert remote.reader_left.wait(5)  # the remote stops generating for nobody


@pytest.mark.parametrize("protocol", BACKENDS)
@pytest.mark.parametrize("mode, message, permanent", [
    ("truncated", "closed the stream mid-reply", False),
    ("unended", "closed the stream mid-reply", False),
    ("silent", "sent nothing for 1 s", False),
    ("stalls", "sent nothing for 1 s", False),
    ("garbage", 'sent invalid JSON: {"choices": \\[{"delta": oops', False),
    ("misshapen", "sent an unexpected reply: {", False),
    ("late_error", "reported an error: model runner stopped", False),
    ("broken", "answered 500 Internal Server Error: the GPU caught fire", False),
    ("missing", "answered 404 Not Found: .*gpt-9", True),
])
def test_a_misbehaving_remote_is_a_readable_error(protocol, mode, message, permanent, remote):
    base_url = remote.url(mode, protocol)
    started = time.monotonic()
    with pytest.raises(BackendError, match=message) as error:
        generate(BACKENDS[protocol](), remote_spec(base_url, protocol, timeout_seconds=1))
    assert error.value.message.startswith(base_url)
    assert error.value.permanent is permanent
    assert time.monotonic() - started < 5


def test_a_reply_ended_without_a_finish_reason_is_not_taken_for_whole(openai, remote):
    base_url = remote.url("interrupted", "openai")
    with pytest.raises(BackendError, match=f"{base_url} ended the reply without a finish"):
        generate(openai, remote_spec(base_url))


@pytest.mark.parametrize("protocol", BACKENDS)
def test_a_remote_that_is_not_listening_cannot_be_reached(protocol):
    base_url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BackendError, match=f"cannot reach {base_url}: .*refused") as error:
        generate(BACKENDS[protocol](), remote_spec(base_url, protocol))
    assert not error.value.permanent
