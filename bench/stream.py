"""How much of llama.cpp's streaming speed a websocket client of the hub gets.

Measured, for the demo model (greedy, one prompt, the same token budget on both sides):

* in-process: llama-cpp-python's ``Llama.generate`` called in this process on the prompt the
  hub's engine builds (same chat template, same sampler settings, same stop rule). Time to
  first token (TTFT) runs from building the prompt to the first token; decode tokens/s is
  (n - 1) / (last token - first token).
* hub: ``manage.py runhub`` started on a fresh data directory (embedded SQLite and Redis), a
  websocket client posting the same prompt to a fresh conversation. TTFT runs from sending
  the message to the first delta; tokens/s is (completion_tokens - 1) / (final frame - first
  delta). The worker's own TTFT and tokens/s, from the final frame, are printed beside them.

Each side warms up once uncounted (the worker loads the model on its first reply), then 5
runs alternate in-process and hub so that noise on the machine hits both alike; only one
side generates at a time. The printout gives every run, the medians, and the hub/in-process
tokens/s ratio and TTFT overhead of the medians against their targets. It is a benchmark:
it exits 0 when a target is missed and says MISSED beside it.

Run from the project root: ``python -m bench.stream``.
"""
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import report
from bench.hub import django_configure, hub_running
from bench.inprocess import InProcessLlama, InProcessRun

PROMPT = "Tell me a long story about a dragon."
MAX_TOKENS = 256
RUNS = 5
MIN_TOKENS_PER_SECOND_RATIO = 0.90
MAX_TTFT_OVERHEAD_MS = 100.0


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def measure(port: int) -> tuple[InProcessLlama, list[InProcessRun], list]:
    from bench.client import demo_model_configure, hub_login, hub_run
    from models_registry.demo import demo_model_path

    model = demo_model_configure(max_tokens=MAX_TOKENS)
    login = hub_login(port)
    local = InProcessLlama(demo_model_path(), context_length=model.context_length)
    progress("warming up (not counted)")
    local.run(PROMPT, max_tokens=MAX_TOKENS)
    hub_run(login, model, PROMPT)
    local_runs, hub_runs = [], []
    for number in range(1, RUNS + 1):
        progress(f"run {number}/{RUNS}")
        local_runs.append(local.run(PROMPT, max_tokens=MAX_TOKENS))
        hub_runs.append(hub_run(login, model, PROMPT))
    return local, local_runs, hub_runs


def print_report(local: InProcessLlama, local_runs: list[InProcessRun], hub_runs: list) -> None:
    from models_registry.demo import DEMO_MODEL_NAME

    print(f"llmhub streaming benchmark: {DEMO_MODEL_NAME}")
    print(f'prompt "{PROMPT}", max_tokens {MAX_TOKENS}, temperature 0, '
          f"llama.cpp threads {local.n_threads} (its default, both sides), "
          f"{RUNS} runs each after 1 warm-up, alternating")
    print()
    print(report.per_run_table(local_runs, hub_runs))
    print()
    print(report.median_table(local_runs, hub_runs))
    print()
    print(report.targets_table(local_runs, hub_runs, min_ratio=MIN_TOKENS_PER_SECOND_RATIO,
                               max_ttft_overhead_ms=MAX_TTFT_OVERHEAD_MS))
    print()
    for note in report.consistency_notes(local_runs, hub_runs, MAX_TOKENS):
        print(note)


def main() -> int:
    started = time.monotonic()
    data_dir = Path(tempfile.mkdtemp(prefix="llmhub-bench-"))
    try:
        django_configure(data_dir)
        progress("starting the hub")
        with hub_running(data_dir) as hub:
            progress(f"hub ready on port {hub.port}")
            results = measure(hub.port)
        print_report(*results)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    progress(f"took {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
