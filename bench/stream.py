"""How much of llama.cpp's streaming speed a websocket client of the hub gets.

Measured, for the demo model (greedy, one prompt, the same token budget on both sides):

* in-process: llama-cpp-python's ``Llama.generate`` called in this process on the prompt the
  hub's engine builds (same chat template, same sampler settings, same stop rule). Time to
  first token (TTFT) runs from building the prompt to the first token; decode tokens/s is
  (n - 1) / (last token - first token).
* in-process engine: the hub's own ``inference.engine.LlamaEngine`` called in this process
  with the ModelSpec the hub's worker builds (the demo row's ``slots``, the worker's thread
  setting: llama.cpp's default when LLMHUB_LLAMA_THREADS is unset), greedy, with
  ``reuse_prefix=False``. A fresh engine per run, warmed up with a few uncounted tokens, then
  closed and joined (llama.cpp's OpenMP team lives with the thread that decodes, and slows
  decoding on the process's other threads; the Llama.generate runs likewise decode on a
  thread each that ends with the run). TTFT runs from calling generate() to the first
  TextChunk; tokens/s is (completion_tokens - 1) / (Completion - first TextChunk).
* hub: ``manage.py runhub`` started on a fresh data directory (embedded SQLite and Redis), a
  websocket client posting the same prompt to a fresh conversation. TTFT runs from sending
  the message to the first delta; tokens/s is (completion_tokens - 1) / (final frame - first
  delta). The worker's own TTFT and tokens/s, from the final frame, are printed beside them.

Each side warms up once uncounted (the worker loads the model on its first reply), then 5
rounds run Llama.generate, the engine and the hub in turn so that noise on the machine hits
all alike; only one side generates at a time. The printout gives every run, the medians,
and, against each in-process side, the hub's tokens/s ratio and TTFT overhead of the
medians against their targets. It is a benchmark:
it exits 0 when a target is missed and says MISSED beside it.

Run from the project root: ``python -m bench.stream``.
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import report
from bench.hub import child_pids, django_configure, hub_running
from bench.inprocess import InProcessEngine, InProcessLlama, worker_model_spec
from bench.quiet import wait_for_quiet
from bench.report import Baseline

PROMPT = "Tell me a long story about a dragon."
MAX_TOKENS = 256
RUNS = 5
MIN_TOKENS_PER_SECOND_RATIO = 0.90  # hub / Llama.generate
MIN_ENGINE_TOKENS_PER_SECOND_RATIO = 0.95  # hub / the engine in-process
MAX_TTFT_OVERHEAD_MS = 100.0


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def hub_pids(hub) -> list[int]:
    """The hub's process and all below it (daphne, the worker, Redis)."""
    found, todo = [], [hub.process.pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += child_pids(pid)
    return found


def quietly(hub) -> None:
    # Other processes decoding at the same time would slow every side alike only by luck.
    wait_for_quiet(hub_pids(hub), report=progress)


def measure(hub) -> tuple[InProcessLlama, InProcessEngine, list[Baseline], list]:
    from bench.client import demo_model_configure, hub_login, hub_run
    from models_registry.demo import demo_model_path

    model = demo_model_configure(max_tokens=MAX_TOKENS)
    login = hub_login(hub.port)
    local = InProcessLlama(demo_model_path(), context_length=model.context_length)
    engine = InProcessEngine(worker_model_spec(model))
    progress("warming up (not counted)")
    local.run(PROMPT, max_tokens=MAX_TOKENS)
    engine.run(PROMPT, max_tokens=MAX_TOKENS)
    hub_run(login, model, PROMPT)
    local_runs, engine_runs, hub_runs = [], [], []
    for number in range(1, RUNS + 1):
        progress(f"run {number}/{RUNS}")
        quietly(hub)
        local_runs.append(local.run(PROMPT, max_tokens=MAX_TOKENS))
        quietly(hub)
        engine_runs.append(engine.run(PROMPT, max_tokens=MAX_TOKENS))
        quietly(hub)
        hub_runs.append(hub_run(login, model, PROMPT))
    baselines = [
        Baseline("in-process", local_runs, MIN_TOKENS_PER_SECOND_RATIO),
        Baseline("engine in-process", engine_runs, MIN_ENGINE_TOKENS_PER_SECOND_RATIO),
    ]
    return local, engine, baselines, hub_runs


def print_report(local: InProcessLlama, engine: InProcessEngine, baselines: list[Baseline],
                 hub_runs: list) -> None:
    from models_registry.demo import DEMO_MODEL_NAME

    print(f"llmhub streaming benchmark: {DEMO_MODEL_NAME}")
    print(f'prompt "{PROMPT}", max_tokens {MAX_TOKENS}, temperature 0, '
          f"{RUNS} runs each after 1 warm-up, alternating")
    print(f"in-process = llama-cpp-python Llama.generate, threads {local.n_threads} "
          f"(batch {local.llama.n_threads_batch}: one per core, as the hub's worker)")
    print(f"engine in-process = LlamaEngine with the worker's ModelSpec: slots {engine.slots}, "
          f"n_threads {engine.n_threads} (threads {engine.effective_threads()}), "
          "prefix reuse on, a fresh engine per run; the hub's worker: the same spec")
    print()
    print(report.per_run_table(baselines, hub_runs))
    print()
    print(report.median_table(baselines, hub_runs))
    print()
    print(report.targets_table(baselines, hub_runs, max_ttft_overhead_ms=MAX_TTFT_OVERHEAD_MS))
    print()
    for note in report.consistency_notes(baselines, hub_runs, MAX_TOKENS):
        print(note)


def main() -> int:
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="llmhub-bench-"))
    try:
        django_configure(data_dir)
        progress("starting the hub")
        with hub_running(data_dir) as hub:
            progress(f"hub ready on port {hub.port}")
            results = measure(hub)
        print_report(*results)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    progress(f"took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
