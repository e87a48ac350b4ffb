"""The usage page's bar chart: SVG geometry worked out here, drawn by the template, so the
page needs no chart library and no script."""
import math
from dataclasses import dataclass
from datetime import date

from llmhub.api.selectors import DailyTokens

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 10, 24  # room for the axes' labels
# Okabe and Ito's colours, told apart by colour-blind readers too (grey for their black,
# which a dark theme would hide).
PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
           "#999999"]
X_LABEL_EVERY = 7  # days


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    title: str


@dataclass(frozen=True)
class Tick:
    at: float
    label: str


@dataclass(frozen=True)
class UsageChart:
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    legend: list[tuple[str, str]]  # (model name, colour)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM


def usage_chart(rows: list[DailyTokens], days: list[date]) -> UsageChart:
    """One bar per day and model, the models side by side within their day's slot."""
    models = sorted({row.model_name for row in rows})
    colours = {name: PALETTE[index % len(PALETTE)] for index, name in enumerate(models)}
    top = _round_up(max((row.tokens for row in rows), default=0))
    slot = (WIDTH - LEFT - RIGHT) / len(days)
    bar_width = slot * 0.8 / max(len(models), 1)
    day_index = {day: index for index, day in enumerate(days)}
    plot_height = HEIGHT - TOP - BOTTOM
    bars = []
    for row in rows:
        height = row.tokens / top * plot_height
        x = LEFT + day_index[row.day] * slot + slot * 0.1 + models.index(row.model_name) * bar_width
        bars.append(Bar(x=round(x, 1), y=round(HEIGHT - BOTTOM - height, 1),
                        width=round(bar_width, 1), height=round(height, 1),
                        colour=colours[row.model_name],
                        title=f"{row.day.isoformat()} · {row.model_name}: {row.tokens:,} tokens"))
    return UsageChart(
        bars=bars, legend=list(colours.items()),
        y_ticks=[Tick(at=HEIGHT - BOTTOM - plot_height * share, label=_short(top * share))
                 for share in (0, 0.5, 1)],
        x_ticks=[Tick(at=round(LEFT + (index + 0.5) * slot, 1), label=f"{day:%b} {day.day}")
                 for index, day in enumerate(days)
                 if (len(days) - 1 - index) % X_LABEL_EVERY == 0])


def _round_up(tokens: int) -> int:
    """The axis' top: the next 1, 2 or 5 times a power of ten at or above ``tokens``."""
    if tokens <= 1:
        return 1
    power = 10 ** math.floor(math.log10(tokens))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= tokens)


def _short(tokens: float) -> str:
    for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if tokens >= factor:
            return f"{tokens / factor:g}{suffix}"
    return f"{tokens:g}"
