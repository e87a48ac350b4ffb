"""The benchmark's printout: per-run figures, medians, and the targets beside them."""
import math
import statistics

from bench.client import HubRun
from bench.inprocess import InProcessRun


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


def per_run_table(local: list[InProcessRun], hub: list[HubRun]) -> str:
    header = ["run", "side", "prompt tok", "tokens", "TTFT ms", "tok/s",
              "server TTFT ms", "server tok/s"]
    rows = []
    for number, (mine, theirs) in enumerate(zip(local, hub, strict=True), start=1):
        rows.append([str(number), "in-process", str(mine.prompt_tokens),
                     str(mine.completion_tokens), fmt(mine.ttft_ms), fmt(mine.tokens_per_second),
                     "", ""])
        rows.append([str(number), "hub (ws)", str(theirs.prompt_tokens),
                     str(theirs.completion_tokens), fmt(theirs.ttft_ms),
                     fmt(theirs.tokens_per_second), fmt(theirs.server_ttft_ms),
                     fmt(theirs.server_tokens_per_second)])
    return table(header, rows)


def median_table(local: list[InProcessRun], hub: list[HubRun]) -> str:
    header = ["median", "in-process", "hub (ws client)", "hub (worker's own)"]
    rows = [
        ["TTFT (ms)", fmt(median(r.ttft_ms for r in local)), fmt(median(r.ttft_ms for r in hub)),
         fmt(median(r.server_ttft_ms for r in hub))],
        ["decode tokens/s", fmt(median(r.tokens_per_second for r in local)),
         fmt(median(r.tokens_per_second for r in hub)),
         fmt(median(r.server_tokens_per_second for r in hub))],
        ["tokens generated", fmt(median(r.completion_tokens for r in local), 0),
         fmt(median(r.completion_tokens for r in hub), 0), ""],
    ]
    return table(header, rows)


def verdict(missed: bool) -> str:
    return "MISSED" if missed else "ok"


def targets_table(local: list[InProcessRun], hub: list[HubRun], *, min_ratio: float,
                  max_ttft_overhead_ms: float) -> str:
    ratio = median(r.tokens_per_second for r in hub) / median(r.tokens_per_second for r in local)
    overhead = median(r.ttft_ms for r in hub) - median(r.ttft_ms for r in local)
    # NaN (no figure at all) compares false both ways: count it as missed.
    rows = [
        ["tokens/s ratio (hub / in-process)", fmt(ratio, 3), f">= {min_ratio:.2f}",
         verdict(not ratio >= min_ratio)],
        ["TTFT overhead (hub - in-process, ms)", fmt(overhead), f"<= {max_ttft_overhead_ms:.0f}",
         verdict(not overhead <= max_ttft_overhead_ms)],
    ]
    return table(["figure (of medians)", "value", "target", ""], rows)


def consistency_notes(local: list[InProcessRun], hub: list[HubRun], max_tokens: int) -> list[str]:
    """Whether both sides did the same work; the ratio means little if they did not."""
    counts = {r.completion_tokens for r in local} | {r.completion_tokens for r in hub}
    prompts = {r.prompt_tokens for r in local} | {r.prompt_tokens for r in hub}
    texts = {r.text for r in local} | {r.text for r in hub}
    notes = [
        f"tokens generated: {', '.join(map(str, sorted(counts)))}"
        + ("" if counts == {max_tokens} else f" (asked for {max_tokens}: stopped early)"),
        f"prompt tokens: {', '.join(map(str, sorted(prompts)))}"
        + ("" if len(prompts) == 1 else " (the two sides built different prompts)"),
        "same reply text on both sides: " + ("yes" if len(texts) == 1 else "NO"),
    ]
    return notes
