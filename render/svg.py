"""A chart's static form: an inline SVG of its figure, drawn at build time, on the page before any script runs.

Plotly replaces it once the visitor scrolls to the chart (assets/site.js): until then, and with JavaScript
off, the page shows this. Lines, dots and bars only; the tables beside each chart carry the figures.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape

W, H = 600, 200  # the viewBox; the chart's box sizes it
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 8, 8
COLOURWAY = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880"]  # Plotly's own


def static(figure: dict[str, Any]) -> Markup:
    """The figure as an <svg>, hidden from assistive technology (the chart's box is labelled, its table says it all)."""
    traces = figure["data"]
    if traces and traces[0]["type"] == "scattergeo":
        body = _geo(traces, figure["layout"]["geo"])
    elif any("xaxis" in t for t in traces):  # one strip per trace, each on its own x axis
        band = (H - TOP - BOTTOM) / len(traces)
        body = "".join(_cartesian([t], figure["layout"], TOP + n * band, band) for n, t in enumerate(traces))
    else:
        body = _cartesian(traces, figure["layout"], TOP, H - TOP - BOTTOM)
    return Markup(f'<svg class="static" viewBox="0 0 {W} {H}" preserveAspectRatio="xMidYMid meet" aria-hidden="true" '
                  f'focusable="false">{body}</svg>')


def _colour(trace: dict[str, Any], n: int) -> str:
    colour = (trace.get("marker") or {}).get("color")
    return str(escape(colour)) if isinstance(colour, str) else COLOURWAY[n % len(COLOURWAY)]


def _numbers(values: list[Any]) -> list[float | None]:
    return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in values]


def _cartesian(traces: list[dict[str, Any]], layout: dict[str, Any], top: float, height: float) -> str:
    """Scatter (lines, dots) and bars (side by side, or stacked) on shared axes, in a band of the box."""
    xs = [x for t in traces for x in t.get("x", [])]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    categories = [] if numeric else list(dict.fromkeys(str(x) for x in xs))
    bars = [t for t in traces if t["type"] == "bar"]
    stacked = layout.get("barmode") == "stack"
    heights: dict[str, float] = {}
    for t in bars:  # the stack's height per category, for the y scale
        for x, y in zip(t["x"], _numbers(t["y"])):
            heights[str(x)] = (heights.get(str(x), 0) if stacked else max(heights.get(str(x), 0), y or 0)) + ((y or 0) if stacked else 0)
    ys = [y for t in traces if t["type"] != "bar" for y in _numbers(t["y"]) if y is not None] + list(heights.values())
    if not xs or not ys:
        return ""
    low, high = min(0.0, min(ys)), max(ys) or 1.0
    width = W - LEFT - RIGHT
    if numeric:
        first, last = min(xs), max(xs)
        span = (last - first) or 1.0
        def x_at(x: Any) -> float:
            return LEFT + (float(x) - first) / span * width
        slot = width / max(len(xs), 1)
    else:
        slot = width / len(categories)
        index = {c: n for n, c in enumerate(categories)}
        def x_at(x: Any) -> float:
            return LEFT + (index[str(x)] + 0.5) * slot
    def y_at(y: float) -> float:
        return top + height - (y - low) / ((high - low) or 1.0) * height
    out = [f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y_at(0):.1f}" y2="{y_at(0):.1f}" stroke="currentColor" stroke-opacity="0.3"/>']
    base: dict[str, float] = {}
    for n, t in enumerate(traces):
        colour = _colour(t, n)
        points = [(x, y) for x, y in zip(t.get("x", []), _numbers(t["y"])) if y is not None]
        if t["type"] == "bar":
            opacity = (t.get("marker") or {}).get("opacity")
            share = 0.8 * slot / (1 if stacked else len(bars))
            offset = 0 if stacked else (bars.index(t) - (len(bars) - 1) / 2) * share
            for k, (x, y) in enumerate(points):
                under = base.get(str(x), 0.0) if stacked else 0.0
                fade = opacity[k] if isinstance(opacity, list) and k < len(opacity) else 1
                out.append(f'<rect x="{x_at(x) + offset - share / 2:.1f}" y="{y_at(under + y):.1f}" width="{share:.1f}" '
                           f'height="{max(0.0, y_at(under) - y_at(under + y)):.1f}" fill="{colour}" fill-opacity="{fade}"/>')
                if stacked:
                    base[str(x)] = under + y
            continue
        if "lines" in t.get("mode", "") and len(points) > 1:
            path = " ".join(f"{x_at(x):.1f},{y_at(y):.1f}" for x, y in points)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        out += [f'<circle cx="{x_at(x):.1f}" cy="{y_at(y):.1f}" r="3" fill="{colour}"/>' for x, y in points]
    return "".join(out)


def _geo(traces: list[dict[str, Any]], geo: dict[str, Any]) -> str:
    """The cities' dots, by longitude and latitude over the map's range, on a graticule of 10 degrees."""
    (lat0, lat1), (lon0, lon1) = geo["lataxis"]["range"], geo["lonaxis"]["range"]
    def at(lat: float, lon: float) -> tuple[float, float]:
        return (LEFT + (lon - lon0) / ((lon1 - lon0) or 1) * (W - LEFT - RIGHT),
                TOP + (lat1 - lat) / ((lat1 - lat0) or 1) * (H - TOP - BOTTOM))
    out = []
    for lon in range(-(-int(lon0) // 10) * 10, int(lon1) + 1, 10):
        x, _ = at(lat0, lon)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" stroke="currentColor" stroke-opacity="0.12"/>')
    for lat in range(-(-int(lat0) // 10) * 10, int(lat1) + 1, 10):
        _, y = at(lat, lon0)
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.12"/>')
    for n, t in enumerate(traces):
        colour = _colour(t, n)
        for lat, lon in zip(_numbers(t["lat"]), _numbers(t["lon"])):
            if lat is not None and lon is not None:
                x, y = at(lat, lon)
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
    return "".join(out)


def strip(values: list[float], mine: float | None, median: float | None) -> Markup:
    """One figure of every endpoint as dots on a line, the median as a tick and this endpoint's dot marked, so that a
    reader sees where the city sits among its peers (the table beside it has the numbers)."""
    if not values:
        return Markup("")
    width, height, pad = 160, 18, 6
    low, high = min(values), max(values)
    def x(v: float) -> float:
        return pad + ((v - low) / (high - low) if high > low else 0.5) * (width - 2 * pad)
    out = [f'<line x1="{pad}" x2="{width - pad}" y1="9" y2="9" stroke="currentColor" stroke-opacity="0.35"/>']
    if median is not None:
        out.append(f'<line x1="{x(median):.1f}" x2="{x(median):.1f}" y1="3" y2="15" stroke="currentColor" stroke-width="1.5"/>')
    out += [f'<circle cx="{x(v):.1f}" cy="9" r="3" fill="currentColor" fill-opacity="0.35"/>' for v in values]
    if mine is not None:
        out.append(f'<circle class="mine" cx="{x(mine):.1f}" cy="9" r="5.5" fill="#0a58ca" stroke="#ffffff" stroke-width="1.5"/>')
    return Markup(f'<svg class="strip" viewBox="0 0 {width} {height}" width="{width}" height="{height}" aria-hidden="true" '
                  f'focusable="false">{"".join(out)}</svg>')
