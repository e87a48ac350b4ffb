"""What asking for the top-5 log-probabilities costs the engine's decode speed.

The chat page asks for them on every local reply (the token-probability view), so they
must stay cheap. Measured in one run on the demo model, greedy, one engine (one slot, 2
threads, as on the 2-core machines), with the same prompts (``bench.prompts``) asked
without logprobs and with ``logprobs=5``. The two alternate within each round, in
A-B-B-A order, so that drift hits both; each pair's ratio is taken seconds apart and the
figure is the median ratio. Decode tokens/s is (tokens - 1) / (last token - first token):
the per-token work the logprobs add happens between those two.

On a shared machine that is never quiet, ``--no-wait`` measures at once instead of
waiting for quiet (up to 2 minutes a run): each pair's two runs then share the same
neighbours, and the others' CPU is reported beside the figures.

``--interleaved`` measures the same cost another way, closer in and much less sensitive
to a busy machine: one greedy decode loop on the engine's ``LlamaContext`` whose steps
alternate between with and without the logprob work (``log_distribution`` and
``token_logprob``, as ``inference.sequence`` does them); the figure is the ratio of the
median step times. Neighbours then hit both kinds of step alike, 10 ms apart.

Greedy replies must be the same with and without logprobs (they are read before sampling
and never change it): a difference is reported as a failure of the benchmark.

Run from the project root:
``python -m bench.logprobs [--rounds N] [--max-tokens N] [--no-wait] [--interleaved]``.
"""
import argparse
import statistics
import sys
import time

import llama_cpp
import numpy as np

from bench import quiet
from bench.engine_runs import engine_spec, greedy_request, timed_stream
from bench.prompts import STREAM_PROMPTS, stream_messages

TOP = 5
N_THREADS = 2
CONTEXT_LENGTH = 1024
MAX_TOKENS = 128
ROUNDS = 3
TARGET_RATIO = 0.95  # logprobs may cost at most 5% of decode speed


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def decode_run(engine, index: int, logprobs: int | None, max_tokens: int) -> tuple[float, str]:
    """One greedy reply to prompt ``index``: its decode tokens/s and its text."""
    request = greedy_request(engine.spec, stream_messages(index), max_tokens=max_tokens)
    request.logprobs = logprobs
    request.reuse_prefix = False  # every run prefills its prompt: no run helps the next
    timing, _ = timed_stream(engine, request)
    return timing.decode_tokens_per_second, timing.text


def watched_decode_run(engine, index: int, logprobs: int | None, max_tokens: int,
                       wait: bool) -> tuple[float, str, float]:
    """decode_run, on a quiet machine when ``wait``; also the cores others used meanwhile."""
    run = lambda: decode_run(engine, index, logprobs, max_tokens)  # noqa: E731
    if wait:
        (speed, text), others, _ = quiet.measured_quietly(
            run, label=f"prompt {index}, logprobs={logprobs}", report=progress)
        return speed, text, others
    monitor = quiet.CpuMonitor()
    monitor.start()
    speed, text = run()
    return speed, text, monitor.stop()


def measure(rounds: int, max_tokens: int, wait: bool) -> dict[str, list[float]]:
    """Tokens/s without and with logprobs, each pair's ratio (with / without), and the
    cores others used during each run."""
    from inference.engine import LlamaEngine
    from models_registry.demo import demo_model_path

    engine = LlamaEngine(engine_spec(demo_model_path(), slots=1, n_threads=N_THREADS,
                                     context_length=CONTEXT_LENGTH))
    figures: dict[str, list[float]] = {"plain": [], "top": [], "ratio": [], "others": []}
    try:
        progress("warming up (not counted)")
        decode_run(engine, 0, TOP, 16)
        for number in range(1, rounds + 1):
            for index in range(len(STREAM_PROMPTS)):
                progress(f"round {number}/{rounds}, prompt {index + 1}/{len(STREAM_PROMPTS)}")
                order = (None, TOP) if (number + index) % 2 else (TOP, None)
                runs = {logprobs: watched_decode_run(engine, index, logprobs, max_tokens, wait)
                        for logprobs in order}
                (speed, text, others), (speed_top, text_top, others_top) = runs[None], runs[TOP]
                if text != text_top:
                    raise RuntimeError(f"prompt {index}: logprobs changed the greedy reply")
                figures["plain"].append(speed)
                figures["top"].append(speed_top)
                figures["ratio"].append(speed_top / speed)
                figures["others"] += [others, others_top]
                progress(f"  {speed:.1f} tokens/s without, {speed_top:.1f} with: ratio "
                         f"{speed_top / speed:.3f} (others used {others:.2f}, "
                         f"{others_top:.2f} cores)")
    finally:
        engine.close()
        engine.thread.join(timeout=60)
    return figures


def interleaved_steps(max_tokens: int, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds per decode step (decode, logprob work or not, greedy pick): without, with."""
    from inference.llama import LlamaContext
    from models_registry.demo import demo_model_path

    llama = LlamaContext(engine_spec(demo_model_path(), slots=1, n_threads=N_THREADS,
                                     context_length=CONTEXT_LENGTH))
    steps: dict[bool, list[float]] = {False: [], True: []}
    try:
        for number in range(rounds * len(STREAM_PROMPTS)):
            progress(f"interleaved: prompt {number + 1}/{rounds * len(STREAM_PROMPTS)}")
            llama.slot_clear(0)
            index = _prefill(llama, llama.chat_prompt_tokens(
                stream_messages(number % len(STREAM_PROMPTS))))
            for step in range(max_tokens):
                with_top = (step + number) % 2 == 1
                started = time.perf_counter()
                distribution = llama.log_distribution(index) if with_top else None
                token = int(np.argmax(np.ctypeslib.as_array(
                    llama_cpp.llama_get_logits_ith(llama.ctx, index), shape=(llama.n_vocab,))))
                if distribution is not None:
                    llama.token_logprob(distribution, token, TOP)
                batch = llama.batch_start()
                index = llama.feed(batch, token, 0, logits=True)
                llama.decode(batch)
                steps[with_top].append(time.perf_counter() - started)
    finally:
        llama.close()
    return steps[False], steps[True]


def _prefill(llama, prompt: list[int]) -> int:
    batch = llama.batch_start()
    for position, token in enumerate(prompt):
        index = llama.feed(batch, token, 0, logits=position == len(prompt) - 1)
    llama.decode(batch)
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.logprobs", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--max-tokens", type=int, default=MAX_TOKENS)
    parser.add_argument("--no-wait", action="store_true",
                        help="measure at once, without waiting for a quiet machine")
    parser.add_argument("--interleaved", action="store_true",
                        help="only the interleaved decode loop (see above)")
    arguments = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if arguments.interleaved:
        plain, with_top = interleaved_steps(arguments.max_tokens, arguments.rounds)
        ratio = statistics.median(plain) / statistics.median(with_top)
        print(f"interleaved decode loop, demo model, greedy, {N_THREADS} threads, "
              f"{len(plain) + len(with_top)} steps")
        print(f"median step without logprobs {statistics.median(plain) * 1000:.2f} ms, "
              f"with logprobs={TOP} {statistics.median(with_top) * 1000:.2f} ms")
        print(f"speed ratio (with / without): {ratio:.3f}  "
              f"[target >= {TARGET_RATIO}: {'ok' if ratio >= TARGET_RATIO else 'MISSED'}]")
        return 0
    figures = measure(arguments.rounds, arguments.max_tokens, wait=not arguments.no_wait)
    plain, with_top, ratios = figures["plain"], figures["top"], figures["ratio"]
    ratio = statistics.median(ratios)
    verdict = "ok" if ratio >= TARGET_RATIO else "MISSED"
    print(f"demo model, greedy, max_tokens {arguments.max_tokens}, {N_THREADS} threads, "
          f"{len(ratios)} pairs")
    print(f"decode tokens/s without logprobs: median {statistics.median(plain):.1f}")
    print(f"decode tokens/s with logprobs={TOP}: median {statistics.median(with_top):.1f}")
    print(f"ratio (with / without, per pair): median {ratio:.3f}, "
          f"min {min(ratios):.3f}, max {max(ratios):.3f}  "
          f"[target >= {TARGET_RATIO}: {verdict}]")
    print(f"cores other processes used during the runs: median "
          f"{statistics.median(figures['others']):.2f}, max {max(figures['others']):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
