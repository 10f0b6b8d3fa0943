"""A chart's static form: an inline SVG of its figure, drawn at build time, on the page before any script runs.

Plotly replaces it once the visitor scrolls to the chart (assets/site.js): until then, and with JavaScript
off, the page shows this. Lines, dots and bars only; the tables beside each chart carry the figures.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

W, H = 600, 200  # the viewBox; the chart's box sizes it
LEFT, RIGHT, TOP, BOTTOM = 48, 10, 26, 22  # room for the title and legend above, the tick labels left and below
COLOURWAY = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880"]  # Plotly's own
LAND = Path(__file__).resolve().parent / "plotly" / "world_110m.json"  # Natural Earth's, as the drawn map has it


def static(figure: dict[str, Any]) -> Markup:
    """The figure as an <svg> with its title, axes, tick labels and legend, hidden from assistive technology (the
    chart's box is labelled, its table says it all). Text is in currentColor, so it reads in dark mode too."""
    traces, layout = figure["data"], figure["layout"]
    named = [(t["name"], _colour(t, n)) for n, t in enumerate(traces) if t.get("name") and t.get("showlegend", True) is not False]
    top = TOP + (14 if len(named) > 1 else 0)
    if traces and traces[0]["type"] == "scattergeo":
        body = _geo(traces, layout["geo"], top)
    elif any("xaxis" in t for t in traces):  # one strip per trace, each on its own x axis, named above it
        band = (H - top - 4) / len(traces)
        body = "".join(_cartesian([t], {}, top + n * band + 12, band - 26, label=t["name"]) for n, t in enumerate(traces))
        named = []
    else:
        body = _cartesian(traces, layout, top, H - top - BOTTOM)
    title = (layout.get("title") or {}).get("text", "")
    head = f'<text x="2" y="12" font-size="12" font-weight="600" fill="currentColor">{escape(title)}</text>' if title else ""
    return Markup(f'<svg class="static" viewBox="0 0 {W} {H}" preserveAspectRatio="xMidYMid meet" aria-hidden="true" '
                  f'focusable="false">{head}{_legend(named)}{body}</svg>')


def _legend(named: list[tuple[str, str]]) -> str:
    """A swatch and a name per trace, in a row under the title (more than one trace only)."""
    if len(named) < 2:
        return ""
    out, x = [], 2.0
    for name, colour in named:
        out.append(f'<rect x="{x:.0f}" y="20" width="10" height="10" fill="{colour}"/>'
                   f'<text x="{x + 13:.0f}" y="29" font-size="10" fill="currentColor">{escape(name)}</text>')
        x += 22 + 5.6 * len(name)
    return "".join(out)


def _colour(trace: dict[str, Any], n: int) -> str:
    colour = (trace.get("marker") or {}).get("color")
    return str(escape(colour)) if isinstance(colour, str) else COLOURWAY[n % len(COLOURWAY)]


def _numbers(values: list[Any]) -> list[float | None]:
    return [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in values]


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    """Round values from low to high for an axis: steps of 1, 2 or 5 times a power of ten."""
    span = (high - low) or abs(high) or 1.0
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [round(first + n * step, 10) for n in range(int((high - first) / step + 1e-9) + 1)]


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.0f}" if value == int(value) or abs(value) >= 100 else f"{value:g}"
    return str(value)


def _cartesian(traces: list[dict[str, Any]], layout: dict[str, Any], top: float, height: float, label: str = "") -> str:
    """Scatter (lines, dots) and bars (side by side, or stacked) on shared axes, in a band of the box: the y axis with
    its ticks and title, the x axis with its first, middle and last labels."""
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
    strip = bool(label)  # a strip of dots: y is only a spread, no axis of its own
    ticks = [] if strip else _ticks(min(0.0, min(ys)), max(ys) or 1.0)
    low, high = (min(ys), max(ys)) if strip else (ticks[0], max(ticks[-1], max(ys)))
    left, width = (8, W - 8 - RIGHT) if strip else (LEFT, W - LEFT - RIGHT)
    if numeric:
        first, last = min(xs), max(xs)
        span = (last - first) or 1.0
        def x_at(x: Any) -> float:
            return float(left + (float(x) - first) / span * width)
        slot = width / max(len(xs), 1)
    else:
        slot = width / len(categories)
        index = {c: n for n, c in enumerate(categories)}
        def x_at(x: Any) -> float:
            return left + (index[str(x)] + 0.5) * slot
    def y_at(y: float) -> float:
        return top + height - (y - low) / ((high - low) or 1.0) * height
    bottom = top + height
    out = [f'<line x1="{left}" x2="{W - RIGHT}" y1="{bottom:.1f}" y2="{bottom:.1f}" stroke="currentColor" stroke-opacity="0.5"/>']
    if strip:
        out.append(f'<text x="{left}" y="{top - 4:.1f}" font-size="10" fill="currentColor">{escape(label)}</text>')
    else:
        out.append(f'<line x1="{left}" x2="{left}" y1="{top:.1f}" y2="{bottom:.1f}" stroke="currentColor" stroke-opacity="0.5"/>')
        for tick in ticks:
            out.append(f'<line x1="{left}" x2="{W - RIGHT}" y1="{y_at(tick):.1f}" y2="{y_at(tick):.1f}" stroke="currentColor" '
                       f'stroke-opacity="0.12"/><text x="{left - 4}" y="{y_at(tick) + 3.5:.1f}" font-size="10" text-anchor="end" '
                       f'fill="currentColor">{_label(tick)}</text>')
        axis = ((layout.get("yaxis") or {}).get("title") or {}).get("text")
        if axis:
            out.append(f'<text x="10" y="{top + height / 2:.1f}" font-size="10" text-anchor="middle" fill="currentColor" '
                       f'transform="rotate(-90 10 {top + height / 2:.1f})">{escape(axis)}</text>')
    shown = [first, (first + last) / 2, last] if numeric else [categories[0], categories[len(categories) // 2], categories[-1]]
    for n, x in enumerate(dict.fromkeys(shown)):
        anchor = ("start", "middle", "end")[n] if len(set(shown)) == 3 else "middle"
        out.append(f'<text x="{x_at(x):.1f}" y="{bottom + 13:.1f}" font-size="10" text-anchor="{anchor}" fill="currentColor">'
                   f'{escape(_label(x))}</text>')
    return "".join(out + _marks(traces, bars, stacked, slot, x_at, y_at))


def _marks(traces: list[dict[str, Any]], bars: list[dict[str, Any]], stacked: bool, slot: float,
           x_at: Callable[[Any], float], y_at: Callable[[float], float]) -> list[str]:
    """Each trace's marks on the axes: bars (side by side in a category's slot, or stacked), lines and dots."""
    out: list[str] = []
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
    return out


def _geo(traces: list[dict[str, Any]], geo: dict[str, Any], top: float) -> str:
    """The land (Natural Earth's, as the drawn map has it) and the cities' dots, by longitude and latitude over the
    map's range, on a graticule of 10 degrees labelled at its edges."""
    (lat0, lat1), (lon0, lon1) = geo["lataxis"]["range"], geo["lonaxis"]["range"]
    left, bottom = 30, H - 16
    def at(lat: float, lon: float) -> tuple[float, float]:
        return (left + (lon - lon0) / ((lon1 - lon0) or 1) * (W - left - RIGHT),
                top + (lat1 - lat) / ((lat1 - lat0) or 1) * (bottom - top))
    out = [f'<clipPath id="map-clip"><rect x="{left}" y="{top}" width="{W - left - RIGHT}" height="{bottom - top}"/></clipPath>',
           f'<path d="{_land(at, (lat0, lat1, lon0, lon1))}" fill="currentColor" fill-opacity="0.16" stroke="currentColor" '
           f'stroke-opacity="0.45" stroke-width="0.6" clip-path="url(#map-clip)"/>']
    meridians = range(-(-int(lon0) // 10) * 10, int(lon1) + 1, 10)
    every = max(1, math.ceil(len(meridians) / 10))  # a label on every tenth degree, or every twentieth when they would crowd
    for lon in meridians:
        x, _ = at(lat0, lon)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="currentColor" stroke-opacity="0.12"/>')
        if (lon // 10) % every == 0:
            out.append(f'<text x="{x:.1f}" y="{bottom + 12}" font-size="9" text-anchor="middle" fill="currentColor">'
                       f'{abs(lon)}°{"EW"[lon < 0] if lon else ""}</text>')
    for lat in range(-(-int(lat0) // 10) * 10, int(lat1) + 1, 10):
        _, y = at(lat, lon0)
        out.append(f'<line x1="{left}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="currentColor" stroke-opacity="0.12"/>'
                   f'<text x="{left - 3}" y="{y + 3:.1f}" font-size="9" text-anchor="end" fill="currentColor">'
                   f'{abs(lat)}°{"NS"[lat < 0] if lat else ""}</text>')
    for n, t in enumerate(traces):
        colour = _colour(t, n)
        for here, there in zip(_numbers(t["lat"]), _numbers(t["lon"])):
            if here is not None and there is not None:
                x, y = at(here, there)
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}" stroke="#ffffff" stroke-width="1"/>')
    return "".join(out)


@functools.lru_cache(maxsize=1)
def _land_rings() -> tuple[tuple[tuple[float, float], ...], ...]:
    """Every ring of Natural Earth's land as (longitude, latitude) points, decoded from the TopoJSON once."""
    topo = json.loads(LAND.read_text())
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:  # quantized and delta-encoded
        qx = qy = 0
        line: list[tuple[float, float]] = []
        for dx, dy in arc:
            qx, qy = qx + dx, qy + dy
            line.append((qx * sx + tx, qy * sy + ty))
        arcs.append(line)
    rings = []
    for geometry in topo["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for ring in polygon:
                points: list[tuple[float, float]] = []
                for i in ring:
                    part = arcs[i] if i >= 0 else arcs[~i][::-1]
                    points += part[1:] if points else part
                rings.append(_unwrapped(points))
    return tuple(rings)


def _unwrapped(points: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """A ring that crosses the antimeridian (Eurasia's) made continuous, so it is not filled across the whole map."""
    out: list[tuple[float, float]] = []
    shift = 0.0
    for n, (lon, lat) in enumerate(points):
        if n and abs(lon + shift - out[-1][0]) > 180:
            shift += 360.0 if out[-1][0] > lon + shift else -360.0
        out.append((lon + shift, lat))
    return tuple(out)


def _land(at: Any, bounds: tuple[float, float, float, float]) -> str:
    """The land within (a little beyond) the map's range as one SVG path; points closer than a unit dropped."""
    lat0, lat1, lon0, lon1 = bounds
    out = []
    for ring in _land_rings():
        lons, lats = [p[0] for p in ring], [p[1] for p in ring]
        if max(lons) < lon0 - 5 or min(lons) > lon1 + 5 or max(lats) < lat0 - 5 or min(lats) > lat1 + 5:
            continue
        path, last = [], None
        for lon, lat in ring:
            x, y = at(lat, lon)
            if last is None or abs(x - last[0]) + abs(y - last[1]) >= 1:
                path.append(f"{x:.0f},{y:.0f}")
                last = (x, y)
        if len(path) > 2:
            out.append("M" + "L".join(path) + "Z")
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
