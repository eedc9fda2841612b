"""Chart geometry for server-rendered SVG: column charts (a series per colour) and bar rows, no JavaScript."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 600, 220
LEFT, BOTTOM, TOP = 40, 24, 8
ROW_HEIGHT, ROW_LABEL = 24, 170
MAX_LABELS = 8
BLUE, GREEN, ORANGE, GREY = "#0b5cad", "#1d7a3a", "#a4360f", "#8a94a3"


@dataclass
class Chart:
    width: int
    height: int
    bars: list[dict] = field(default_factory=list)
    labels: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)


def _top(value: float) -> float:
    """A round number at or above `value` for the axis (1, 2, 5 × 10^n)."""
    if value <= 0:
        return 1
    step = 1.0
    while step * 10 <= value:
        step *= 10
    return next(step * k for k in (1, 2, 5, 10) if step * k >= value)


def columns(labels: list[str], series: list[tuple[str, str, list[float]]]) -> Chart:
    """Grouped columns: one group per label, one column per (name, colour, values) series."""
    chart = Chart(WIDTH, HEIGHT, legend=[(name, colour) for name, colour, _ in series])
    top = _top(max((v for _, _, values in series for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    group = plot_w / max(1, len(labels))
    width = group * 0.8 / max(1, len(series))
    for fraction in (0, 0.5, 1):
        chart.ticks.append({"y": TOP + plot_h * (1 - fraction), "text": f"{top * fraction:g}"})
    every = max(1, -(-len(labels) // MAX_LABELS))
    for i, label in enumerate(labels):
        x = LEFT + i * group
        if i % every == 0:
            chart.labels.append({"x": x + group / 2, "text": label})
        for j, (name, colour, values) in enumerate(series):
            h = plot_h * values[i] / top
            chart.bars.append(
                {
                    "x": x + group * 0.1 + j * width,
                    "y": TOP + plot_h - h,
                    "w": width,
                    "h": h,
                    "fill": colour,
                    "title": f"{label}: {values[i]:g} {name}",
                }
            )
    return chart


def rows(items: list[tuple[str, float]], colour: str = BLUE, top: float | None = None) -> Chart:
    """Horizontal bars, one row per (label, value), against `top` (default: the largest value)."""
    chart = Chart(WIDTH, max(1, len(items)) * ROW_HEIGHT)
    top = top or _top(max((v for _, v in items), default=0))
    for i, (label, value) in enumerate(items):
        y = i * ROW_HEIGHT
        chart.labels.append({"x": ROW_LABEL - 6, "y": y + ROW_HEIGHT * 0.65, "text": label})
        chart.bars.append(
            {
                "x": ROW_LABEL,
                "y": y + 4,
                "w": (WIDTH - ROW_LABEL) * value / top,
                "h": ROW_HEIGHT - 8,
                "fill": colour,
                "title": f"{label}: {value:g}",
            }
        )
    return chart
