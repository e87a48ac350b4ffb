"""The engine benchmark's printout: every run, the medians, and the targets beside them."""
import math

from bench.quiet import DISTURBED_ABOVE
from bench.report import fmt, table, verdict
from bench.timing import ConcurrentRun, median

# figure: (lowest acceptable value) or, for TTFT, the highest
SINGLE_RATIO = 0.95  # engine single stream / bare loop single
AGGREGATE_RATIOS = {4: 1.7, 8: 2.0}  # engine aggregate at N streams / engine single
SERVER_RATIO = 1.7  # engine@4 / llama_cpp.server@4
LLAMA_SERVER_RATIO = 0.8  # engine@4 / llama-server@4
MAX_TTFT_RATIO = 0.5  # turn-2 TTFT with reuse / without


def counts(run: ConcurrentRun) -> str:
    return ",".join(map(str, run.token_counts))


def others(run: ConcurrentRun) -> str:
    # Cores other processes used during the run; "!" where the run is not to be trusted.
    mark = " !" if run.others_cpu > DISTURBED_ABOVE else ""
    return f"{run.others_cpu:.2f}{mark}"


# --- per run ----------------------------------------------------------------------------------
def bare_and_engine_runs(results) -> str:
    header = ["round", "streams", "side", "tokens per stream", "aggregate tok/s",
              "decode agg tok/s", "per-stream tok/s", "other CPU"]
    rows = []
    for streams in sorted(results.engine):
        pairs = zip(results.bare[streams], results.engine[streams], strict=True)
        for number, (bare, engine) in enumerate(pairs, start=1):
            for side, run in (("bare loop", bare), ("engine", engine)):
                rows.append([str(number), str(streams), side, counts(run), fmt(run.aggregate),
                             fmt(run.decode_aggregate), fmt(run.per_stream), others(run)])
    return table(header, rows)


def peer_runs(results) -> str:
    header = ["peer", "round", "tokens per stream", "chunks per stream", "aggregate tok/s",
              "per-stream tok/s", "other CPU"]
    rows = []
    for name, runs in results.peers.items():
        for number, (engine, run) in enumerate(zip(results.peer_engine[name], runs,
                                                   strict=True), start=1):
            chunks = ",".join(str(s.chunks) for s in run.streams)
            rows.append([name, str(number), counts(run), chunks, fmt(run.aggregate),
                         fmt(run.per_stream), others(run)])
            rows.append(["  engine, just before", str(number), counts(engine), "",
                         fmt(engine.aggregate), fmt(engine.per_stream), others(engine)])
    return table(header, rows)


def ttft_runs(results) -> str:
    labels = {"reuse": "turn 2 after turn 1, reuse_prefix=True",
              "cold": "turn 2 after turn 1, reuse_prefix=False",
              "fresh": "turn 2 alone on a fresh engine"}
    header = ["second-turn TTFT (ms)", *(f"run {i}" for i in range(1, 1 + max(
        len(v) for v in results.ttft.values()))), "median"]
    rows = []
    for key, label in labels.items():
        values = results.ttft.get(key)
        if values is None:
            rows.append([label, *([""] * (len(header) - 2)),
                         "n/a (engine has no reuse_prefix yet)"])
            continue
        rows.append([label, *(fmt(v * 1000) for v in values), fmt(median(values) * 1000)])
    return table(header, rows)


# --- medians ----------------------------------------------------------------------------------
def medians(results) -> str:
    header = ["streams", "bare decode agg", "bare per-stream", "engine aggregate",
              "engine decode agg", "engine per-stream", "engine agg / bare"]
    rows = []
    for streams in sorted(results.engine):
        bare, engine = results.bare[streams], results.engine[streams]
        bare_agg = median(r.decode_aggregate for r in bare)
        engine_agg = median(r.aggregate for r in engine)
        rows.append([str(streams), fmt(bare_agg), fmt(median(r.per_stream for r in bare)),
                     fmt(engine_agg), fmt(median(r.decode_aggregate for r in engine)),
                     fmt(median(r.per_stream for r in engine)), fmt(engine_agg / bare_agg, 2)])
    for name, runs in results.peers.items():
        rows.append([f"{len(runs[0].streams)} ({name})", "", "",
                     fmt(median(r.aggregate for r in runs)),
                     fmt(median(r.decode_aggregate for r in runs)),
                     fmt(median(r.per_stream for r in runs)), ""])
    return table(header, rows)


# --- targets ----------------------------------------------------------------------------------
# A target's figure is the median over rounds of a ratio within one round: the machine's
# speed drifts by tens of percent over minutes, while a round's runs are seconds apart.
def single(run: ConcurrentRun) -> float:
    # Per-stream decode tokens/s of a 1-stream run: it leaves out the prompt, as the bare
    # loop's figure does.
    return run.per_stream


def aggregate(run: ConcurrentRun) -> float:
    return run.aggregate


def decode_aggregate(run: ConcurrentRun) -> float:
    return run.decode_aggregate


def paired(numerators: list[ConcurrentRun], denominators: list[ConcurrentRun], top, bottom
           ) -> float:
    """Median of top(a) / bottom(b) over rounds; NaN (shown "-") when a side was not run."""
    if not numerators or not denominators:
        return math.nan
    return median(top(a) / bottom(b) for a, b in zip(numerators, denominators, strict=True))


def at_least(label: str, value: float, target: float) -> list[str]:
    return [label, fmt(value, 2), f">= {target:.2f}", verdict(not value >= target)]


def reference(label: str, value: float) -> list[str]:
    return [label, fmt(value, 2), "", "(reference)"]


def targets(results) -> str:
    def bare(streams: int) -> list[ConcurrentRun]:
        return results.bare.get(streams, [])

    def engine(streams: int) -> list[ConcurrentRun]:
        return results.engine.get(streams, [])

    rows = [at_least("engine single / bare loop single",
                     paired(engine(1), bare(1), single, decode_aggregate), SINGLE_RATIO)]
    for streams, target in AGGREGATE_RATIOS.items():
        rows.append(at_least(f"engine aggregate @{streams} / engine single",
                             paired(engine(streams), engine(1), aggregate, single), target))
        rows.append(reference(f"  bare loop @{streams} / bare loop single (what batching "
                              "gives here)",
                              paired(bare(streams), bare(1), decode_aggregate, decode_aggregate)))
    rows.append(peer_target(results, "llama_cpp.server (--interrupt_requests False)",
                            "engine @4 / llama_cpp.server @4 (no interrupts)", SERVER_RATIO))
    rows.append(peer_target(results, "llama_cpp.server (default)",
                            "engine @4 / llama_cpp.server @4 (its default)", None))
    rows.append(peer_target(results, "llama-server", "engine @4 / llama-server @4",
                            LLAMA_SERVER_RATIO))
    rows.append(ttft_target(results))
    header = ["figure (median over rounds of the ratio in a round)", "value", "target", ""]
    return table(header, rows)


def peer_target(results, prefix: str, label: str, target: float | None) -> list[str]:
    name = next((n for n in results.peers if n.startswith(prefix)), None)
    if name is None:
        note = next((v for k, v in results.peer_notes.items() if k.startswith(prefix)),
                    "not measured")
        return [label, "-", f">= {target:.2f}" if target else "", note]
    value = paired(results.peer_engine.get(name, []), results.peers[name], aggregate, aggregate)
    return at_least(label, value, target) if target else reference(label, value)


def ttft_target(results) -> list[str]:
    label = "turn-2 TTFT reuse / cold"
    if "cold" not in results.ttft:
        return [label, "n/a", f"<= {MAX_TTFT_RATIO:.2f}", "engine has no reuse_prefix yet"]
    # Each run's two engines were measured one after the other: paired by run too.
    ratio = median(a / b for a, b in zip(results.ttft["reuse"], results.ttft["cold"],
                                         strict=True))
    return [label, fmt(ratio, 2), f"<= {MAX_TTFT_RATIO:.2f}",
            verdict(not ratio <= MAX_TTFT_RATIO)]


# --- consistency ------------------------------------------------------------------------------
def consistency_notes(results, max_tokens: int) -> list[str]:
    """Whether the sides did the same work; a ratio means little where they did not."""
    notes = []
    all_runs = [r for runs in (*results.bare.values(), *results.engine.values()) for r in runs]
    short = sorted({t for r in all_runs for t in r.token_counts if t != max_tokens})
    notes.append("bare loop and engine streams: every one generated "
                 f"{max_tokens} tokens" if not short else
                 f"bare loop and engine streams that stopped early: {short} tokens")
    notes.append(text_agreement(results))
    notes.append(prompt_agreement(results))
    for name, runs in results.peers.items():
        notes.append(peer_agreement(results, name, runs))
    notes.append(disturbance_note(results))
    if results.turn_two_prompt_tokens:
        notes.append(f"second turn: {results.turn_two_prompt_tokens} prompt tokens; turn 1's "
                     "reply the same on every fresh engine: "
                     + ("yes" if len(results.turn_one_replies) == 1 else "NO"))
    return notes


def disturbance_note(results) -> str:
    runs = [r for group in (*results.bare.values(), *results.engine.values(),
                            *results.peers.values(), *results.peer_engine.values())
            for r in group]
    again = sum(r.attempts > 1 for r in runs) + results.ttft_retried
    kept = sum(r.others_cpu > DISTURBED_ABOVE for r in runs) + results.ttft_disturbed
    return (f"other processes' CPU use: {again} run(s) measured again after a disturbance, "
            f"{kept} kept disturbed (marked !)"
            + ("" if not kept else ": their figures are too low and so may be the medians"))


def reference_texts(results) -> dict[int, str]:
    """Prompt index -> the bare loop's reply to it when decoded alone (prompt 0), or else
    in its largest batch (the others: no run decodes them alone)."""
    return {i: s.text for i, s in enumerate(results.bare[max(results.bare)][0].streams)} | {
        0: results.bare[1][0].streams[0].text}


def text_agreement(results) -> str:
    """How many replies match the bare loop's reply to the same prompt decoded alone."""
    reference = reference_texts(results)
    differing: set[str] = set()
    compared = same = 0
    for side, groups in (("bare", results.bare), ("engine", results.engine)):
        for streams, runs in groups.items():
            for run in runs:
                for index, stream in enumerate(run.streams):
                    compared += 1
                    if stream.text == reference[index]:
                        same += 1
                    else:
                        differing.add(f"{side}@{streams} prompt {index}")
    where = "" if not differing else f" (differ: {', '.join(sorted(differing))})"
    return (f"replies identical to the bare loop's (prompt 0 decoded alone, the others in a "
            f"batch of {max(results.bare)}): {same}/{compared}{where}")


def prompt_agreement(results) -> str:
    seen = {(i, s.prompt_tokens) for runs in results.engine.values() for r in runs
            for i, s in enumerate(r.streams)}
    differing = sorted({i for i, tokens in seen if tokens != results.prompt_tokens.get(i)})
    return ("engine prompt tokens equal the bare loop's: "
            + ("yes" if not differing else f"NO for prompts {differing}"))


def peer_agreement(results, name: str, runs: list[ConcurrentRun]) -> str:
    reference = reference_texts(results)
    same = sum(s.text == reference[i] for r in runs for i, s in enumerate(r.streams))
    total = sum(len(r.streams) for r in runs)
    return f"{name}: replies identical to the bare loop's: {same}/{total}"


# --- all --------------------------------------------------------------------------------------
def print_report(results, *, settings: str, max_tokens: int) -> None:
    print("llmhub engine benchmark")
    print(settings)
    print()
    print("Bare loop and engine, every run (tokens/s)")
    print(bare_and_engine_runs(results))
    print()
    if results.peers:
        print("Peers, every run: 4 concurrent streaming clients, and the engine with 4 streams "
              "just before (tokens/s)")
        print(peer_runs(results))
        print()
    print(ttft_runs(results))
    print()
    print("Medians (tokens/s)")
    print(medians(results))
    print()
    print(targets(results))
    print()
    for note in consistency_notes(results, max_tokens):
        print(note)
