"""The benchmark's printout: per-run figures, medians, and the targets beside them.

The hub is compared with each in-process baseline in turn (``Baseline``: a label, its runs
and the tokens/s ratio the hub must reach against it).
"""
import dataclasses
import math
import statistics

from bench.client import HubRun
from bench.inprocess import InProcessRun


@dataclasses.dataclass(frozen=True)
class Baseline:
    label: str
    runs: list[InProcessRun]
    min_ratio: float


def median(values) -> float:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else math.nan


def fmt(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        # The first column is a label: left-aligned; figures are right-aligned.
        figures = zip(row[1:], widths[1:], strict=True)
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in figures]
        return "  ".join(cells).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def per_run_table(baselines: list[Baseline], hub: list[HubRun]) -> str:
    header = ["run", "side", "prompt tok", "tokens", "TTFT ms", "tok/s",
              "server TTFT ms", "server tok/s"]
    rows = []
    for number, theirs in enumerate(hub, start=1):
        for baseline in baselines:
            mine = baseline.runs[number - 1]
            rows.append([str(number), baseline.label, str(mine.prompt_tokens),
                         str(mine.completion_tokens), fmt(mine.ttft_ms),
                         fmt(mine.tokens_per_second), "", ""])
        rows.append([str(number), "hub (ws)", str(theirs.prompt_tokens),
                     str(theirs.completion_tokens), fmt(theirs.ttft_ms),
                     fmt(theirs.tokens_per_second), fmt(theirs.server_ttft_ms),
                     fmt(theirs.server_tokens_per_second)])
    return table(header, rows)


def median_table(baselines: list[Baseline], hub: list[HubRun]) -> str:
    header = ["median", *(b.label for b in baselines), "hub (ws client)", "hub (worker's own)"]
    rows = [
        ["TTFT (ms)", *(fmt(median(r.ttft_ms for r in b.runs)) for b in baselines),
         fmt(median(r.ttft_ms for r in hub)), fmt(median(r.server_ttft_ms for r in hub))],
        ["decode tokens/s", *(fmt(median(r.tokens_per_second for r in b.runs))
                              for b in baselines),
         fmt(median(r.tokens_per_second for r in hub)),
         fmt(median(r.server_tokens_per_second for r in hub))],
        ["tokens generated", *(fmt(median(r.completion_tokens for r in b.runs), 0)
                               for b in baselines),
         fmt(median(r.completion_tokens for r in hub), 0), ""],
    ]
    return table(header, rows)


def verdict(missed: bool) -> str:
    return "MISSED" if missed else "ok"


def targets_table(baselines: list[Baseline], hub: list[HubRun], *,
                  max_ttft_overhead_ms: float) -> str:
    rows = []
    for baseline in baselines:
        ratio = (median(r.tokens_per_second for r in hub)
                 / median(r.tokens_per_second for r in baseline.runs))
        overhead = median(r.ttft_ms for r in hub) - median(r.ttft_ms for r in baseline.runs)
        # NaN (no figure at all) compares false both ways: count it as missed.
        rows += [
            [f"tokens/s ratio (hub / {baseline.label})", fmt(ratio, 3),
             f">= {baseline.min_ratio:.2f}", verdict(not ratio >= baseline.min_ratio)],
            [f"TTFT overhead (hub - {baseline.label}, ms)", fmt(overhead),
             f"<= {max_ttft_overhead_ms:.0f}", verdict(not overhead <= max_ttft_overhead_ms)],
        ]
    return table(["figure (of medians)", "value", "target", ""], rows)


def consistency_notes(baselines: list[Baseline], hub: list[HubRun],
                      max_tokens: int) -> list[str]:
    """Whether every side did the same work; the ratios mean little if they did not."""
    every = [r for b in baselines for r in b.runs] + list(hub)
    counts = {r.completion_tokens for r in every}
    prompts = {r.prompt_tokens for r in every}
    texts = {r.text for r in every}
    notes = [
        f"tokens generated: {', '.join(map(str, sorted(counts)))}"
        + ("" if counts == {max_tokens} else f" (asked for {max_tokens}: stopped early)"),
        f"prompt tokens: {', '.join(map(str, sorted(prompts)))}"
        + ("" if len(prompts) == 1 else " (the sides built different prompts)"),
        "same reply text on every side: " + ("yes" if len(texts) == 1 else "NO"),
    ]
    return notes
