"""How the hub's inference engine compares with a bare decode loop and with other servers.

Measured in one run, on the demo model (SmolLM2-135M-Instruct Q4_1), greedy, every side on
2 threads for prompt and decode (the machines have 2 cores), the same ``MAX_TOKENS`` and a
different prompt per stream (``bench.prompts``). Only one thing decodes at a time.

1. Bare loop (``bench.baselines``): llama-cpp-python's low-level API with nothing around it,
   1, 2, 4 and 8 sequences decoded together in one batch. Its figure is decode tokens/s:
   tokens after each prompt's first / time after the first tokens (prefill excluded).
2. Engine (``inference.engine.LlamaEngine``) with 1, 2, 4 and 8 concurrent streams, threads
   calling ``generate`` at the same moment (``bench.engine_runs``). A fresh engine with
   ``ENGINE_SLOTS`` slots serves every run, so no run finds another's prompt in its cache.
   The bare loop and the engine both run with flash attention off (as llama-cpp-python's
   ``Llama`` does), so their greedy replies can be compared token for token.
   Aggregate tokens/s: all completion tokens / (last stream's end - first stream's first
   token). Per stream: the median over streams of (tokens - 1) / (last - first token).
   The engine's "single" figure is the per-stream one at 1 stream: like the bare loop's,
   it leaves out the prompt.
   Bare loop and engine runs alternate, ``ROUNDS`` rounds, so noise on the machine hits
   both; one run of each before the rounds warms the machine and is not counted; figures
   are medians over the rounds.
3. ``python -m llama_cpp.server`` (llama-cpp-python's own server, ``bench.peers``) with 4
   concurrent streaming clients, twice: with ``--interrupt_requests False`` (every client
   gets its whole reply, served one after another: the peer of the target) and with its
   default (a new request cuts the one in flight short). Aggregate tokens/s as above. Each
   round runs the engine with 4 streams just before the peer (the peer's process idle), so
   that the two are compared within a round.
4. Time to first token of a conversation's second turn (about 500 prompt tokens): turn 1 on
   a fresh engine, then turn 2 with ``reuse_prefix=True``; on another fresh engine, turn 1
   then turn 2 with ``reuse_prefix=False``; and, for reference, turn 2 alone on a fresh
   engine. From calling ``generate`` to the first TextChunk; median of ``TTFT_RUNS``.
5. With ``--with-llama-server`` (builds it once, minutes; ``bench.llama_server``), or when
   the binary is already cached: llama.cpp's ``llama-server -np 4`` with 4 clients (flash
   attention off, as everywhere else), paired with engine runs like the peer in 3.

The machine's speed drifts (the same bare loop ran at 90 and at 130 tokens/s an hour apart):
a target's figure is the median over rounds of the ratio within each round, whose two runs
are seconds apart. Every run waits for a quiet machine and is measured again when another
process used the CPU meanwhile (``bench.quiet``).

The engine's API grows while this benchmark is in use: ``ModelSpec.slots`` and
``GenerationRequest.reuse_prefix`` are used only where they exist. It is a benchmark: it
exits 0 when a target is missed and prints MISSED beside it.

Run from the project root: ``python -m bench.engine [--with-llama-server] [--rounds N]``.
"""
import argparse
import dataclasses
import sys
import time

from bench import engine_report, peers, quiet
from bench.baselines import BareLoop
from bench.engine_runs import (
    concurrent_streams,
    engine_spec,
    greedy_request,
    has_field,
    time_to_first_token,
)
from bench.prompts import (
    ChatTokenizer,
    first_turn_messages,
    second_turn_messages,
    stream_messages,
)
from bench.timing import ConcurrentRun
from inference.types import GenerationRequest

MAX_TOKENS = 128
N_THREADS = 2
CONTEXT_LENGTH = 4096  # the servers' n_ctx
# The batching engine gives each slot context_length tokens: 1024 holds the ~500-token second
# turn and its reply, and is what llama-server -np 4 -c 4096 gives each of its slots.
ENGINE_CONTEXT_LENGTH = 1024
N_BATCH = 512
N_SEQ_MAX = 8  # the bare loop's context holds this many sequences, whatever the run uses
# llama.cpp splits n_ctx between the sequences: each gets as many cells as an engine slot.
BARE_N_CTX = ENGINE_CONTEXT_LENGTH * N_SEQ_MAX
ENGINE_SLOTS = 8  # one engine configuration for every stream count, as a hub would run
STREAM_COUNTS = (1, 2, 4, 8)
PEER_CLIENTS = 4
ROUNDS = 3
TTFT_RUNS = 3
TTFT_MAX_TOKENS = 4  # turn 2 only has to start


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclasses.dataclass
class Results:
    bare: dict[int, list[ConcurrentRun]] = dataclasses.field(default_factory=dict)
    engine: dict[int, list[ConcurrentRun]] = dataclasses.field(default_factory=dict)
    peers: dict[str, list[ConcurrentRun]] = dataclasses.field(default_factory=dict)
    # engine runs at PEER_CLIENTS streams, each just before the peer's run of the same round
    peer_engine: dict[str, list[ConcurrentRun]] = dataclasses.field(default_factory=dict)
    peer_notes: dict[str, str] = dataclasses.field(default_factory=dict)
    ttft: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    ttft_retried: int = 0  # TTFT measurements taken again after a disturbance
    ttft_disturbed: int = 0  # ... that others disturbed on every attempt
    turn_two_prompt_tokens: int | None = None
    turn_one_replies: set[str] = dataclasses.field(default_factory=set)
    prompt_tokens: dict[int, int] = dataclasses.field(default_factory=dict)


# --- 1 and 2: bare loop and engine, alternating --------------------------------------------
def new_engine():
    from inference.engine import LlamaEngine
    from models_registry.demo import demo_model_path

    return LlamaEngine(engine_spec(demo_model_path(), slots=ENGINE_SLOTS, n_threads=N_THREADS,
                                   context_length=ENGINE_CONTEXT_LENGTH))


def close_engine(engine) -> None:
    # close() only asks the engine's thread to finish: wait for it, so that no engine is
    # still freeing its context while the next thing is measured (or as the process exits).
    engine.close()
    thread = getattr(engine, "thread", None)
    if thread is not None:
        thread.join(timeout=60)


def engine_run(streams: int) -> ConcurrentRun:
    engine = new_engine()
    try:
        requests = [greedy_request(engine.spec, stream_messages(i), max_tokens=MAX_TOKENS)
                    for i in range(streams)]
        return concurrent_streams(engine, requests)
    finally:
        close_engine(engine)


def quiet_run(run, *, label: str, own_pids=()) -> ConcurrentRun:
    result, others, attempts = quiet.measured_quietly(run, label=label, report=progress,
                                                      own_pids=own_pids)
    return dataclasses.replace(result, others_cpu=others, attempts=attempts)


def bare_run(loop: BareLoop, tokenizer: ChatTokenizer, streams: int) -> ConcurrentRun:
    prompts = [tokenizer.prompt_tokens(stream_messages(i)) for i in range(streams)]
    return loop.run(prompts, max_tokens=MAX_TOKENS, to_text=tokenizer.text)


def measure_bare_and_engine(results: Results, tokenizer: ChatTokenizer, rounds: int) -> None:
    from models_registry.demo import demo_model_path

    loop = BareLoop(demo_model_path(), n_ctx=BARE_N_CTX, n_batch=N_BATCH,
                    n_seq_max=N_SEQ_MAX, n_threads=N_THREADS)
    try:
        progress("warming up bare loop and engine (not counted)")
        bare_run(loop, tokenizer, 2)
        engine_run(2)
        for number in range(1, rounds + 1):
            for streams in STREAM_COUNTS:
                progress(f"round {number}/{rounds}: {streams} stream(s): bare loop, engine")
                bare = quiet_run(lambda n=streams: bare_run(loop, tokenizer, n),
                                 label=f"bare loop, {streams} stream(s)")
                engine = quiet_run(lambda n=streams: engine_run(n),
                                   label=f"engine, {streams} stream(s)")
                results.bare.setdefault(streams, []).append(bare)
                results.engine.setdefault(streams, []).append(engine)
    finally:
        loop.close()
    results.prompt_tokens = {i: len(tokenizer.prompt_tokens(stream_messages(i)))
                             for i in range(max(STREAM_COUNTS))}


# --- 3 and 5: HTTP peers ---------------------------------------------------------------------
def measure_peer(results: Results, peer: peers.Peer, tokenizer: ChatTokenizer,
                 rounds: int) -> None:
    conversations = [stream_messages(i) for i in range(PEER_CLIENTS)]
    progress(f"starting {peer.name}")
    with peers.running(peer) as process:
        progress(f"{peer.name}: warming up (not counted)")
        peers.concurrent_clients(peer, conversations[:1], max_tokens=8, tokenizer=tokenizer)
        for number in range(1, rounds + 1):
            progress(f"{peer.name}: round {number}/{rounds}, {PEER_CLIENTS} clients "
                     f"(engine first, {PEER_CLIENTS} streams, the peer idle meanwhile)")
            engine = quiet_run(lambda: engine_run(PEER_CLIENTS),
                               label=f"engine, {PEER_CLIENTS} streams", own_pids=[process.pid])
            results.peer_engine.setdefault(peer.name, []).append(engine)
            run = quiet_run(
                lambda: peers.concurrent_clients(peer, conversations, max_tokens=MAX_TOKENS,
                                                 tokenizer=tokenizer),
                label=peer.name, own_pids=[process.pid])
            results.peers.setdefault(peer.name, []).append(run)


def measure_llama_cpp_python_server(results: Results, tokenizer: ChatTokenizer,
                                    rounds: int) -> None:
    from models_registry.demo import demo_model_path

    for interrupt in (False, True):
        peer = peers.llama_cpp_python_server(
            sys.executable, demo_model_path(), n_threads=N_THREADS,
            context_length=CONTEXT_LENGTH, interrupt_requests=interrupt)
        measure_peer(results, peer, tokenizer, rounds)


def measure_llama_server(results: Results, tokenizer: ChatTokenizer, rounds: int,
                         build_it: bool) -> None:
    from bench import llama_server
    from models_registry.demo import demo_model_path

    name = f"llama-server (-np {PEER_CLIENTS})"
    if not llama_server.cached_binary():
        if not build_it:
            results.peer_notes[name] = "skipped: not built (run with --with-llama-server)"
            return
        started = time.monotonic()
        try:
            llama_server.build()
        except Exception as error:  # a failed build is reported, not fatal
            results.peer_notes[name] = f"skipped: the build failed ({error})"
            return
        progress(f"llama-server built in {time.monotonic() - started:.0f} s")
    peer = peers.llama_server(demo_model_path(), parallel=PEER_CLIENTS, n_threads=N_THREADS,
                              context_length=CONTEXT_LENGTH)
    measure_peer(results, peer, tokenizer, rounds)


# --- 4: second-turn TTFT ---------------------------------------------------------------------
def turn_one(engine) -> str:
    request = greedy_request(engine.spec, first_turn_messages(), max_tokens=MAX_TOKENS)
    return time_to_first_token(engine, request)[1]


def turn_two_ttft(reuse_prefix: bool | None, *, with_history: bool,
                  reply: str | None = None) -> tuple[float, str]:
    """One fresh engine: turn 1 (when with_history), then turn 2's TTFT; and turn 1's reply."""
    engine = new_engine()
    try:
        if with_history:
            reply = turn_one(engine)
        request = greedy_request(engine.spec, second_turn_messages(reply),
                                 max_tokens=TTFT_MAX_TOKENS, reuse_prefix=reuse_prefix)
        return time_to_first_token(engine, request)[0], reply
    finally:
        close_engine(engine)


def quiet_ttft(results: Results, key: str, reuse_prefix: bool | None, **kwargs) -> str:
    """Measure one turn-2 TTFT into results.ttft[key]; return turn 1's reply."""
    (seconds, reply), others, attempts = quiet.measured_quietly(
        lambda: turn_two_ttft(reuse_prefix, **kwargs), label=f"second turn, {key}",
        report=progress)
    results.ttft.setdefault(key, []).append(seconds)
    results.ttft_retried += attempts > 1
    results.ttft_disturbed += others > quiet.DISTURBED_ABOVE
    return reply


def measure_ttft(results: Results, tokenizer: ChatTokenizer) -> None:
    can_choose = has_field(GenerationRequest, "reuse_prefix")
    for number in range(1, TTFT_RUNS + 1):
        progress(f"second-turn TTFT: run {number}/{TTFT_RUNS}")
        # True only where the engine has the field: the old one reuses what it can anyway.
        reply = quiet_ttft(results, "reuse", True if can_choose else None, with_history=True)
        results.turn_one_replies.add(reply)
        if can_choose:
            results.turn_one_replies.add(
                quiet_ttft(results, "cold", False, with_history=True))
        quiet_ttft(results, "fresh", False if can_choose else None, with_history=False,
                   reply=reply)
    results.turn_two_prompt_tokens = len(tokenizer.prompt_tokens(second_turn_messages(reply)))


# --- main -------------------------------------------------------------------------------------
def parse_arguments(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-llama-server", action="store_true",
                        help="build llama.cpp's llama-server if it is not cached (minutes)")
    parser.add_argument("--rounds", type=int, default=ROUNDS,
                        help=f"measured runs per configuration (default {ROUNDS})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from models_registry.demo import demo_model_path

    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    tokenizer = ChatTokenizer(demo_model_path())
    results = Results()
    measure_bare_and_engine(results, tokenizer, arguments.rounds)
    measure_ttft(results, tokenizer)
    measure_llama_cpp_python_server(results, tokenizer, arguments.rounds)
    measure_llama_server(results, tokenizer, arguments.rounds, arguments.with_llama_server)
    engine_report.print_report(results, settings=settings_line(), max_tokens=MAX_TOKENS)
    progress(f"took {time.monotonic() - started:.0f} s")
    return 0


def settings_line() -> str:
    from inference.types import ModelSpec
    from models_registry.demo import DEMO_MODEL_FILE

    slots = (f"slots={ENGINE_SLOTS} for every stream count" if has_field(ModelSpec, "slots")
             else "no slots field yet (the one-slot engine)")
    slots += f", context_length {ENGINE_CONTEXT_LENGTH}"
    reuse = ("has reuse_prefix" if has_field(GenerationRequest, "reuse_prefix")
             else "no reuse_prefix yet")
    return (f"{DEMO_MODEL_FILE}, greedy, max_tokens {MAX_TOKENS}, n_threads = n_threads_batch "
            f"= {N_THREADS}\n"
            f"bare loop: n_ctx {BARE_N_CTX}, n_batch {N_BATCH}, n_seq_max {N_SEQ_MAX}; "
            f"servers: n_ctx {CONTEXT_LENGTH}\n"
            f"engine: {slots}, {reuse}")


if __name__ == "__main__":
    sys.exit(main())
