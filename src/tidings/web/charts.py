"""Small bar charts as inline SVG, drawn on the server (no JavaScript, no charting service).

The SVG is an image with a `<title>` and `<desc>` for screen readers, and every bar carries
its own `<title>` (a tooltip); pages also print the numbers as text or a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from tidings.reading.health import SourceHealth

WIDTH = 600
HEIGHT = 140
MIN_SLOTS = 30
_TOP = 16  # room for the maximum's label
_BOTTOM = 18  # room for the first and last labels


@dataclass(frozen=True)
class Bar:
    value: float
    label: str  # the bar's tooltip, e.g. "24 Nov: 3 articles"
    css_class: str = ""  # e.g. "bar-error"


def bar_chart(
    bars: list[Bar],
    *,
    chart_id: str,  # unique on the page: the SVG's title and desc ids derive from it
    title: str,
    description: str,
    first_label: str = "",
    last_label: str = "",
    max_label: str = "",
) -> Markup:
    """An SVG bar chart of `bars`, left to right; the tallest bar fills the height."""
    top = max((bar.value for bar in bars), default=0.0)
    plot = HEIGHT - _TOP - _BOTTOM
    slot = WIDTH / max(MIN_SLOTS, len(bars))  # a few bars stay narrow, left-aligned
    gap = min(2.0, slot / 4)
    shapes: list[str] = []
    for index, bar in enumerate(bars):
        height = 0.0 if top <= 0 else max(bar.value / top * plot, 1.0 if bar.value else 0.0)
        css = f"bar {bar.css_class}".strip()
        shapes.append(
            f'<rect class="{escape(css)}" x="{index * slot + gap / 2:.1f}" '
            f'y="{_TOP + plot - height:.1f}" width="{slot - gap:.1f}" height="{height:.1f}">'
            f"<title>{escape(bar.label)}</title></rect>"
        )
    baseline = _TOP + plot
    labels = [
        f'<line class="axis" x1="0" y1="{baseline}" x2="{WIDTH}" y2="{baseline}"/>',
        f'<text class="label" x="0" y="{HEIGHT - 4}">{escape(first_label)}</text>',
        f'<text class="label" x="{WIDTH}" y="{HEIGHT - 4}" text-anchor="end">'
        f"{escape(last_label)}</text>",
        f'<text class="label" x="0" y="{_TOP - 4}">{escape(max_label)}</text>',
    ]
    # Every text interpolated above and below goes through html.escape.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
        + "".join(labels)
        + f'<g class="bars">{"".join(shapes)}</g></svg>'
    )


def article_bars(health: SourceHealth) -> list[Bar]:
    """One bar per day: the articles the source published that day (UTC)."""
    return [Bar(day.articles, f"{day.day.isoformat()}: {day.articles}") for day in health.days]


def fetch_bars(health: SourceHealth) -> list[Bar]:
    """One bar per refresh: how long it took; failed refreshes are drawn as errors."""
    return [
        Bar(
            fetch.duration_s,
            f"{fetch.started_at:%Y-%m-%d %H:%M} UTC: {fetch.duration_s:.1f} s"
            + (f" ✗ {fetch.error or fetch.http_status or ''}" if fetch.failed else ""),
            "bar-error" if fetch.failed else "",
        )
        for fetch in health.fetches
    ]
