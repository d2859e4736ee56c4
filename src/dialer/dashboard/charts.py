"""Server-side SVG charts: geometry only, drawn by the templates. Pure, no build step.

The bars are SVG stretched to the box (``preserveAspectRatio="none"``); the labels are
HTML placed by percentage under it (``Tick``), so their text keeps the page's font size
on a 390 px phone instead of being squeezed with the drawing. Every other label is
``minor``: a narrow screen hides those (app.css), keeping about four.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Tick:
    label: str
    left: float  # percent of the chart's width, the label's centre
    minor: bool  # hidden on a narrow screen


def ticks(centres: list[tuple[str, float]], width: float, *, most: int = 8) -> list[Tick]:
    """At most ``most`` labels, evenly spaced from the first; every other one minor."""
    every = max(-(-len(centres) // most), 1)
    shown = centres[::every]
    return [
        Tick(label=label, left=round(100.0 * x / width, 2), minor=i % 2 == 1)
        for i, (label, x) in enumerate(shown)
    ]


# Room above the tallest bar and below the axis, in viewBox units (the labels are HTML).
TOP, BOTTOM = 4.0, 2.0


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    max_value: int
    baseline: float  # y of the x axis
    ticks: list[Tick]


def bar_chart(
    points: list[tuple[str, int]], *, width: int = 720, height: int = 200, gap: float = 2.0
) -> BarChart:
    """Vertical bars for ``points`` (label, value); the tallest fills the plot height."""
    top, bottom = TOP, BOTTOM
    plot = height - top - bottom
    peak = max((v for _, v in points), default=0)
    n = max(len(points), 1)
    slot = width / n
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot * value / peak if peak else 0.0
        bars.append(
            Bar(
                label=label,
                value=value,
                x=round(i * slot + gap / 2, 2),
                y=round(top + plot - h, 2),
                width=round(max(slot - gap, 1.0), 2),
                height=round(h, 2),
            )
        )
    centres = [(b.label, b.x + b.width / 2) for b in bars]
    return BarChart(
        bars=bars,
        width=width,
        height=height,
        max_value=peak,
        baseline=top + plot,
        ticks=ticks(centres, width),
    )


@dataclass(frozen=True)
class Share:
    key: str
    count: int
    percent: float


def breakdown(counts: dict[str, int]) -> list[Share]:
    """Counts as shares of the total, largest first (for the outcome bars)."""
    total = sum(counts.values())
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [
        Share(key=k, count=v, percent=round(100.0 * v / total, 1) if total else 0.0)
        for k, v in items
    ]


@dataclass(frozen=True)
class Group:
    label: str
    values: tuple[int, ...]
    bars: tuple[Bar, ...]  # one per series, side by side


@dataclass(frozen=True)
class GroupChart:
    groups: list[Group]
    width: int
    height: int
    max_value: int
    baseline: float
    series: int
    ticks: list[Tick]


def grouped_chart(
    points: list[tuple[str, tuple[int, ...]]], *, width: int = 720, height: int = 200
) -> GroupChart:
    """Bars of several series side by side per label (calls and contacts per hour)."""
    top, bottom = TOP, BOTTOM
    plot = height - top - bottom
    series = max((len(v) for _, v in points), default=1)
    peak = max((max(v) for _, v in points if v), default=0)
    slot = width / max(len(points), 1)
    inner = max(slot - 2.0, 1.0)
    bar_w = inner / series
    groups = []
    for i, (label, values) in enumerate(points):
        bars = []
        for k, value in enumerate(values):
            h = plot * value / peak if peak else 0.0
            bars.append(
                Bar(
                    label=label,
                    value=value,
                    x=round(i * slot + 1.0 + k * bar_w, 2),
                    y=round(top + plot - h, 2),
                    width=round(max(bar_w - 0.5, 0.5), 2),
                    height=round(h, 2),
                )
            )
        groups.append(Group(label=label, values=values, bars=tuple(bars)))
    centres = [(label, (i + 0.5) * slot) for i, (label, _v) in enumerate(points)]
    return GroupChart(groups, width, height, peak, top + plot, series, ticks(centres, width))


@dataclass(frozen=True)
class Step:
    key: str
    count: int
    percent: float  # of the first step


def funnel(steps: list[tuple[str, int]]) -> list[Step]:
    """Each step as a share of the first (attempts -> contacts -> ... -> kept)."""
    first = steps[0][1] if steps else 0
    return [
        Step(key=k, count=n, percent=round(100.0 * n / first, 1) if first else 0.0)
        for k, n in steps
    ]
