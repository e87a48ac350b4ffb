"""How much of the engine's streaming speed a client of the hub's OpenAI and Ollama APIs gets.

Measured, for the demo model (greedy, sampler settings as ``bench.inprocess.hub_sampling``,
the same prompt and token budget on both sides of each comparison):

* engine in-process: ``inference.engine.LlamaEngine`` with the ModelSpec the hub's worker
  builds, as ``bench.stream`` runs it: a fresh engine per run, warmed up with a few uncounted
  tokens, then closed and joined. TTFT runs from calling generate() to the first TextChunk;
  tokens/s is (completion_tokens - 1) / (last TextChunk - first TextChunk).
* /v1: ``POST /v1/chat/completions``, streamed with ``stream_options.include_usage``. TTFT
  runs from sending the request to the first chunk with non-empty delta content; tokens/s is
  (usage.completion_tokens - 1) / (last content chunk - first content chunk).
* /api: ``POST /api/chat``, Ollama's NDJSON stream; the same, with the done line's
  eval_count. The worker's own figures (prompt_eval_duration, eval_duration) beside them.

The client is raw httpx, one ``json.loads`` per event: about 5 us of CPU per chunk where the
openai SDK's pydantic objects take about 80, CPU the client takes from a decode on 2 cores.

Prompt cache: the worker's engine starts a request from the slot whose KV cache shares most
of its prompt, so a prompt the hub saw before is hardly prefilled. Each hub request gets a
prompt of its own, "Request N. Tell me a long story about a dragon.", N's first digit (each
digit is a token) cycling 1-9, unlike the last 8 prompts': whatever its slots hold, the hub
reuses the template's system turn and "Request " and prefills the rest. The engine runs the
same prompts with prefix reuse on after a warm-up on "Request 0. ...", so it reuses and
prefills the same tokens (``reuse_prefix=False`` on the engine alone would prefill the system
turn the hub's slots hold, tilting TTFT toward the hub). The printout gives both counts.

/v1 and /api cannot share a prompt (the second would find it cached), so a round runs the
engine on /v1's prompt, /v1, the engine on /api's prompt, /api, and each API is compared with
the engine on its prompts. Each side warms up once uncounted (the worker loads the model on
its first reply), then 5 rounds. Every run waits for a quiet machine; a pair during which
other processes used the CPU runs again on a fresh prompt (``bench.quiet``). Targets are on
the medians. It is a benchmark: it exits 0 when a target is missed and says MISSED beside it.

Run from the project root: ``python -m bench.api``.
"""
import dataclasses
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench.hub import django_configure, hub_running
from bench.inprocess import decode_tokens_per_second, hub_sampling, worker_model_spec
from bench.quiet import ATTEMPTS, DISTURBED_ABOVE, CpuMonitor, wait_for_quiet
from bench.report import fmt, median, table, verdict
from bench.stream import hub_pids, progress

PROMPT = "Request {number}. Tell me a long story about a dragon."
WARM_UP_NUMBER = 0  # the engine's warm-up prompt; no hub prompt starts with this digit
WARM_UP_TOKENS = 4
MAX_TOKENS = 256
RUNS = 5
MIN_TOKENS_PER_SECOND_RATIO = 0.95  # API / the engine in-process
MAX_TTFT_OVERHEAD_MS = 50.0
SIDES = ("/v1", "/api")

Piece = tuple[float, str | None, dict]  # received at, text, figures for the Run


@dataclasses.dataclass(frozen=True)
class Run:
    number: int  # N in the prompt
    prompt_tokens: int
    completion_tokens: int
    ttft_ms: float
    tokens_per_second: float | None
    text: str
    reused_tokens: int | None = None  # engine: its Completion's; API: the most the hub could
    worker_ttft_ms: float | None = None
    worker_tokens_per_second: float | None = None


def prompt_messages(number: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPT.format(number=number)}]


def hub_number(index: int) -> int:
    """The number in the hub's index-th prompt, its first digit cycling 1-9: two digits and
    unique below 90 (warm-ups and 5 rounds of 3 tries use at most 32)."""
    return (index % 9 + 1) * 10 + index // 9


# --- the engine in-process ------------------------------------------------------------------

def engine_run(spec, number: int, *, hub_earlier: list[int]) -> tuple[Run, int]:
    """One measured run on a fresh engine, and the most prompt tokens the hub can reuse for
    the same prompt from its slots, which hold at most the prompts ``hub_earlier`` numbers."""
    from inference.engine import LlamaEngine

    engine = LlamaEngine(spec)
    try:
        engine_generate(engine, WARM_UP_NUMBER, max_tokens=WARM_UP_TOKENS)
        run = engine_generate(engine, number, max_tokens=MAX_TOKENS)
        return run, hub_reusable(engine, number, hub_earlier)
    finally:
        engine.close()
        engine.thread.join()


def engine_generate(engine, number: int, *, max_tokens: int) -> Run:
    from bench.engine_runs import greedy_request
    from inference.types import Completion, TextChunk

    def pieces() -> Iterator[Piece]:
        request = greedy_request(engine.spec, prompt_messages(number), max_tokens=max_tokens,
                                 reuse_prefix=True)
        for event in engine.generate(request):
            now = time.perf_counter()
            if isinstance(event, TextChunk):
                yield now, event.text, {}
            elif isinstance(event, Completion):
                yield now, None, {"prompt_tokens": event.prompt_tokens,
                                  "completion_tokens": event.completion_tokens,
                                  "reused_tokens": event.cached_tokens}

    return timed_run(number, time.perf_counter(), pieces())


def timed_run(number: int, started: float, pieces: Iterator[Piece]) -> Run:
    """A run's figures from its stream, which starts when ``pieces`` is first read: text
    pieces time its tokens, figures pieces (one or more) give the Run's other fields."""
    parts: list[str] = []
    first_at = last_at = None
    figures: dict = {}
    for at, text, more in pieces:
        if text:
            first_at, last_at = first_at or at, at
            parts.append(text)
        figures |= more
    count = figures.pop("completion_tokens")
    return Run(number=number, completion_tokens=count, text="".join(parts),
               ttft_ms=(first_at - started) * 1000 if first_at else float("nan"),
               tokens_per_second=decode_tokens_per_second(count, first_at, last_at), **figures)


def hub_reusable(engine, number: int, earlier: list[int]) -> int:
    """The most prompt tokens any of the earlier prompts leaves for this one to reuse
    (the engine keeps the last one to decode again, as the hub's does)."""
    prompt = engine.prompt_tokens(prompt_messages(number))
    # commonprefix compares item by item: lists of tokens as well as strings.
    shared = [len(os.path.commonprefix([engine.prompt_tokens(prompt_messages(n)), prompt]))
              for n in earlier]
    return min(max(shared, default=0), len(prompt) - 1)


# --- the APIs --------------------------------------------------------------------------------

def api_request(side: str, model_name: str, number: int) -> tuple[str, dict]:
    sampling = hub_sampling()
    if side == "/v1":
        return "/v1/chat/completions", {
            "model": model_name, "messages": prompt_messages(number), "stream": True,
            "stream_options": {"include_usage": True}, "max_tokens": MAX_TOKENS,
            "temperature": 0.0, "top_p": sampling["top_p"], "seed": 0}
    return "/api/chat", {
        "model": model_name, "messages": prompt_messages(number), "stream": True,
        "options": {"num_predict": MAX_TOKENS, "temperature": 0.0, "seed": 0, **sampling}}


def api_run(client: httpx.Client, side: str, model_name: str, number: int) -> Run:
    path, body = api_request(side, model_name, number)
    parse = sse_line if side == "/v1" else ndjson_line
    return timed_run(number, time.perf_counter(), api_pieces(client, path, body, parse))


def api_pieces(client: httpx.Client, path: str, body: dict, parse) -> Iterator[Piece]:
    with client.stream("POST", path, json=body) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}: {response.read()!r}")
        for line in response.iter_lines():
            # Stamped before parsing: the client's clock is what this side measures.
            yield time.perf_counter(), *parse(line)


def sse_line(line: str) -> tuple[str | None, dict]:
    """A chat completion stream's line: its delta content, and its usage if it has one."""
    if not line.startswith("data: ") or line == "data: [DONE]":
        return None, {}
    chunk = json.loads(line[6:])
    if "error" in chunk:
        raise RuntimeError(f"/v1 streamed an error: {chunk['error']}")
    choices, usage = chunk.get("choices"), chunk.get("usage")
    content = choices[0]["delta"].get("content") if choices else None
    if not usage:
        return content, {}
    return content, {name: usage[name] for name in ("prompt_tokens", "completion_tokens")}


def ndjson_line(line: str) -> tuple[str | None, dict]:
    """An Ollama chat stream's line: its message content, and the done line's figures."""
    if not line:
        return None, {}
    item = json.loads(line)
    if "error" in item:
        raise RuntimeError(f"/api streamed an error: {item['error']}")
    return item.get("message", {}).get("content"), ollama_final(item) if item["done"] else {}


def ollama_final(item: dict) -> dict:
    count, decode_ns = item["eval_count"], item.get("eval_duration") or 0
    return {"prompt_tokens": item["prompt_eval_count"], "completion_tokens": count,
            "worker_ttft_ms": item.get("prompt_eval_duration", 0) / 1e6,
            "worker_tokens_per_second": (count - 1) / (decode_ns / 1e9) if decode_ns else None}


# --- the rounds ------------------------------------------------------------------------------

class Measurement:
    """The hub's prompts in the order it gets them, and every run's figures."""

    def __init__(self, hub, spec, model_name: str, api_key: str) -> None:
        self.hub, self.spec, self.model_name = hub, spec, model_name
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{hub.port}", timeout=300,
                                   headers={"Authorization": f"Bearer {api_key}"})
        self.hub_numbers: list[int] = []
        self.runs: dict[str, list[Run]] = {side: [] for side in SIDES}
        self.engine_runs: dict[str, list[Run]] = {side: [] for side in SIDES}
        self.repeated = self.disturbed = 0  # pairs during which others used the CPU

    def next_number(self) -> int:
        self.hub_numbers.append(hub_number(len(self.hub_numbers)))
        return self.hub_numbers[-1]

    def warm_up(self) -> None:
        progress("warming up (not counted)")
        for side in SIDES:
            api_run(self.client, side, self.model_name, self.next_number())
        engine_run(self.spec, self.hub_numbers[0], hub_earlier=[])

    def round(self) -> None:
        for side in SIDES:
            for attempt in range(1, ATTEMPTS + 1):
                engine, api, others = self.pair(side)
                if others <= DISTURBED_ABOVE:
                    break
                progress(f"  {side}: other processes used {others:.2f} cores during it"
                         + ("; again on a fresh prompt" if attempt < ATTEMPTS else "; kept"))
                self.repeated += attempt < ATTEMPTS
                self.disturbed += attempt == ATTEMPTS
            self.engine_runs[side].append(engine)
            self.runs[side].append(api)

    def pair(self, side: str) -> tuple[Run, Run, float]:
        """The engine, then the API, on a prompt new to the hub; and the most cores other
        processes used during either."""
        number = self.next_number()
        # The hub's slots (fewer than 9) hold at most its last prompts.
        earlier = self.hub_numbers[:-1][-self.spec.slots:]
        monitor = self.quiet_monitor()
        engine, reusable = engine_run(self.spec, number, hub_earlier=earlier)
        others = monitor.stop()
        monitor = self.quiet_monitor()
        api = api_run(self.client, side, self.model_name, number)
        api = dataclasses.replace(api, reused_tokens=reusable)
        return engine, api, max(others, monitor.stop())

    def quiet_monitor(self) -> CpuMonitor:
        """Started once the machine is quiet: the cores others use from now on."""
        pids = hub_pids(self.hub)
        wait_for_quiet(pids, report=progress)
        monitor = CpuMonitor(pids)
        monitor.start()
        return monitor


# --- the printout ----------------------------------------------------------------------------

def per_run_table(m: Measurement) -> str:
    header = ["run", "side", "N", "prompt tok", "reused tok", "tokens", "TTFT ms", "tok/s",
              "worker TTFT ms", "worker tok/s"]
    rows = [[str(index + 1), label, str(r.number), str(r.prompt_tokens), fmt(r.reused_tokens),
             str(r.completion_tokens), fmt(r.ttft_ms), fmt(r.tokens_per_second),
             fmt(r.worker_ttft_ms), fmt(r.worker_tokens_per_second)]
            for index in range(RUNS) for side in SIDES
            for label, r in (("engine", m.engine_runs[side][index]), (side, m.runs[side][index]))]
    return table(header, rows)


def median_table(m: Measurement) -> str:
    columns = [m.engine_runs["/v1"], m.runs["/v1"], m.engine_runs["/api"], m.runs["/api"]]
    header = ["median", "engine (/v1's prompts)", "/v1", "engine (/api's prompts)", "/api",
              "/api (worker's own)"]
    worker = m.runs["/api"]
    return table(header, [
        ["TTFT (ms)", *(fmt(median(r.ttft_ms for r in runs)) for runs in columns),
         fmt(median(r.worker_ttft_ms for r in worker))],
        ["decode tokens/s", *(fmt(median(r.tokens_per_second for r in runs))
                              for runs in columns),
         fmt(median(r.worker_tokens_per_second for r in worker))],
        ["tokens generated", *(fmt(median(r.completion_tokens for r in runs), 0)
                               for runs in columns), ""],
    ])


def targets_table(m: Measurement) -> str:
    rows = []
    for side in SIDES:
        api, engine = m.runs[side], m.engine_runs[side]
        ratio = (median(r.tokens_per_second for r in api)
                 / median(r.tokens_per_second for r in engine))
        overhead = median(r.ttft_ms for r in api) - median(r.ttft_ms for r in engine)
        # NaN (no figure at all) compares false both ways: count it as missed.
        rows += [
            [f"tokens/s ratio ({side} / engine)", fmt(ratio, 3),
             f">= {MIN_TOKENS_PER_SECOND_RATIO:.2f}",
             verdict(not ratio >= MIN_TOKENS_PER_SECOND_RATIO)],
            [f"TTFT overhead ({side} - engine, ms)", fmt(overhead),
             f"<= {MAX_TTFT_OVERHEAD_MS:.0f}", verdict(not overhead <= MAX_TTFT_OVERHEAD_MS)],
        ]
    return table(["figure (of medians)", "value", "target", ""], rows)


def consistency_notes(m: Measurement) -> list[str]:
    """Whether both sides of each comparison did the same work."""
    engine = [r for side in SIDES for r in m.engine_runs[side]]
    api = [r for side in SIDES for r in m.runs[side]]
    counts = {r.completion_tokens for r in engine + api}
    listed = lambda values: ", ".join(map(str, sorted(set(values))))  # noqa: E731
    same = {side: sum(a.text == e.text for a, e in zip(m.runs[side], m.engine_runs[side],
                                                           strict=True)) for side in SIDES}
    return [
        f"tokens generated: {listed(counts)}"
        + ("" if counts == {MAX_TOKENS} else f" (asked for {MAX_TOKENS}: stopped early)"),
        f"prompt tokens: {listed(r.prompt_tokens for r in engine + api)}; reused from a "
        f"slot's cache: engine {listed(r.reused_tokens for r in engine)}, the hub at most "
        f"{listed(r.reused_tokens for r in api)}",
        "same reply text as the engine on the same prompt: "
        + ", ".join(f"{side} {same[side]}/{RUNS}" for side in SIDES),
        f"pairs measured again because other processes used over {DISTURBED_ABOVE} cores: "
        f"{m.repeated}; kept so after {ATTEMPTS} tries: {m.disturbed}",
    ]


def print_report(m: Measurement) -> None:
    from inference.llama import thread_count
    from models_registry.demo import DEMO_MODEL_NAME

    print(f"llmhub API streaming benchmark: {DEMO_MODEL_NAME}")
    print(f'prompt "{PROMPT}" (N new to the hub each time), max_tokens {MAX_TOKENS}, '
          f"temperature 0, {RUNS} rounds after 1 warm-up: engine, /v1, engine, /api")
    print(f"engine = LlamaEngine in-process with the worker's ModelSpec: slots {m.spec.slots}, "
          f"threads {thread_count(m.spec)}, prefix reuse on, a fresh engine per run warmed up "
          f'on "Request {WARM_UP_NUMBER}."')
    print("/v1 = POST /v1/chat/completions (SSE, include_usage), /api = POST /api/chat "
          "(NDJSON); client: httpx, one json.loads per event")
    for part in (per_run_table(m), median_table(m), targets_table(m),
                 "\n".join(consistency_notes(m))):
        print()
        print(part)


def measure(hub) -> Measurement:
    from django.contrib.auth import get_user_model

    from llmhub.api.keys import api_key_create
    from models_registry.demo import DEMO_MODEL_NAME
    from models_registry.models import Model

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    model = Model.objects.get(name=DEMO_MODEL_NAME)
    admin = get_user_model().objects.get(username="admin")  # runhub's first admin
    _, api_key = api_key_create(owner=admin, name="bench.api")
    measurement = Measurement(hub, worker_model_spec(model), model.name, api_key)
    measurement.warm_up()
    for number in range(1, RUNS + 1):
        progress(f"round {number}/{RUNS}")
        measurement.round()
    measurement.client.close()
    return measurement


def main() -> int:
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="llmhub-bench-api-"))
    try:
        django_configure(data_dir)
        progress("starting the hub")
        with hub_running(data_dir) as hub:
            progress(f"hub ready on port {hub.port}")
            measurement = measure(hub)
        print_report(measurement)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    progress(f"took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
