"""Plotly figures as plain JSON for the pages (drawn by assets/site.js; the tables carry the figures too)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from figures import EndpointFigures, EndpointSummary

# Plotly's partial bundles (render/plotly/): the traces each draws. A page's charts all take one bundle.
BUNDLES = {"basic": {"scatter", "bar", "pie"}, "geo": {"scatter", "scattergeo", "choropleth"}}


def bundle(*figures: dict[str, Any] | None) -> str:
    """The smallest of Plotly's bundles that draws all these figures (a page's: it loads one)."""
    kinds = {trace["type"] for figure in figures if figure for trace in figure["data"]}
    return next(name for name, draws in BUNDLES.items() if kinds <= draws)

LAYOUT: dict[str, Any] = {"margin": {"l": 50, "r": 10, "t": 40, "b": 40}, "legend": {"orientation": "h"}, "hovermode": "closest",
          "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)"}


def _title(text: str) -> dict[str, Any]:
    """A chart's title, in Plotly's layout and in its static form alike (render/svg.py)."""
    return {"text": text, "x": 0, "xanchor": "left", "font": {"size": 14}}


def latency_figure(detail: EndpointFigures) -> dict[str, Any] | None:
    """Daily p50 of GET services and GET requests over 30 days, the total and the server's own time; None without any."""
    days = detail.latency_daily
    if not days:
        return None
    data: list[dict[str, Any]] = []
    for method in ("services", "requests"):
        points = [d for d in days if d["method"] == method]
        if points:
            data.append({"type": "scatter", "mode": "lines+markers", "name": f"GET {method}",
                         "x": [d["day"] for d in points], "y": [d["p50"] for d in points]})
        timed = [d for d in points if d.get("server_p50") is not None]
        if timed:
            data.append({"type": "scatter", "mode": "lines", "line": {"dash": "dot"}, "name": f"GET {method}, server's own",
                         "x": [d["day"] for d in timed], "y": [d["server_p50"] for d in timed]})
    return {"data": data, "layout": {**LAYOUT, "title": _title("Median response time per day"),
                                     "yaxis": {"title": {"text": "median ms"}, "rangemode": "tozero"}}}


def requests_figure(detail: EndpointFigures) -> dict[str, Any] | None:
    """Requests per day over the covered part of 30 days, a day only partly covered paler and saying how much of it
    was; None without any request."""
    days = detail.daily_requests
    if not any(d["requests"] for d in days):
        return None
    data = [{"type": "bar", "name": "requests", "x": [d["day"] for d in days], "y": [d["requests"] for d in days],
             "marker": {"opacity": [1 if d["covered"] >= 1 else 0.4 for d in days]},
             "hovertext": [f"{d['requests']} request{'' if d['requests'] == 1 else 's'}"
                           + ("" if d["covered"] >= 1 else f", {d['covered']:.0%} of the day covered") for d in days],
             "hoverinfo": "x+text"}]
    return {"data": data, "layout": {**LAYOUT, "title": _title("Service requests a day"), "yaxis": {"title": {"text": "requests"}}}}


def spread_figure(endpoints: list[EndpointSummary]) -> dict[str, Any] | None:
    """One strip per figure, a dot per endpoint, so a reader sees where each city sits. Scatter, not box: the index's
    map needs the geo bundle, which has no box, and a page loads one bundle. Each dot is spread up or down by a fixed
    draw from its name, so the same data always gives the same chart."""
    figures: list[tuple[str, Callable[[EndpointSummary], float | None]]] = [
        ("Uptime 30 d (%)", lambda e: None if e.uptime["30d"] is None else round(e.uptime["30d"] * 100, 2)),
        ("Server p50 GET services (ms)", lambda e: e.server_ms["p50"] if e.server_ms else None),
        ("Conformance", lambda e: e.conformance)]
    data: list[dict[str, Any]] = []
    for label, read in figures:
        known = [(e.name, v) for e in endpoints if (v := read(e)) is not None]
        if known:
            n = len(data) + 1
            data.append({"type": "scatter", "mode": "markers", "name": label, "x": [v for _, v in known],
                         "y": [_jitter(name) for name, _ in known], "text": [name for name, _ in known], "hoverinfo": "x+text",
                         "xaxis": f"x{n}", "yaxis": f"y{n}", "showlegend": False, "marker": {"size": 8, "opacity": 0.8}})
    if not data:
        return None
    layout: dict[str, Any] = {**LAYOUT, "title": _title("Where each city sits among its peers"),
                              "grid": {"rows": len(data), "columns": 1, "pattern": "independent"},
                              "height": 140 * len(data), "margin": {**LAYOUT["margin"], "l": 150}}
    for n, trace in enumerate(data, start=1):
        suffix = "" if n == 1 else str(n)
        layout[f"yaxis{suffix}"] = {"range": [-1, 1], "tickvals": [0], "ticktext": [trace["name"]], "showgrid": False,
                                    "zeroline": False, "fixedrange": True}
    return {"data": data, "layout": layout}


def _jitter(name: str) -> float:
    """A dot's fixed offset from its strip's line, in [-0.4, 0.4)."""
    return round(int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") / 2**32 * 0.8 - 0.4, 3)


STATUS_COLORS = {"up": "#2e7d32", "degraded": "#9a6700", "down": "#c62828", "unknown": "#6e7781"}


def map_figure(endpoints: list[EndpointSummary], details: dict[str, EndpointFigures]) -> dict[str, Any] | None:
    """Where the cities are, coloured by status, on land, coastlines, countries and (in the United States) states:
    Natural Earth's, from the site's own assets (render/plotly/world_110m.json; Plotly would fetch them from a CDN,
    which the pages' Content-Security-Policy and an offline build rule out)."""
    placed = [(e, details[e.id].location) for e in endpoints if e.id in details and details[e.id].location]
    if not placed:
        return None
    data = []
    for status, color in STATUS_COLORS.items():
        group = [(e, loc) for e, loc in placed if e.status == status]
        if group:
            data.append({"type": "scattergeo", "mode": "markers", "name": status, "marker": {"color": color, "size": 9},
                         "lat": [loc[0] for _, loc in group], "lon": [loc[1] for _, loc in group],
                         "text": [e.name for e, _ in group], "hoverinfo": "text"})
    geo = {"resolution": 110, "showland": True, "landcolor": "#dcdcd6", "showcoastlines": True, "coastlinecolor": "#8c8c8c",
           "showcountries": True, "countrycolor": "#a0a0a0", "showsubunits": True, "subunitcolor": "#bcbcbc",
           "showocean": False, "showlakes": False, "showframe": False, "projection": {"type": "natural earth"},
           "bgcolor": "rgba(0,0,0,0)", "fitbounds": False,
           "lataxis": {"range": _span([loc[0] for _, loc in placed], 12, 30, (-60, 85))},
           "lonaxis": {"range": _span([loc[1] for _, loc in placed], 20, 60, (-180, 180))}}
    return {"data": data, "layout": {**LAYOUT, "title": _title("Where the cities are"), "geo": geo, "height": 420}}


def _span(values: list[float], margin: float, least: float, limits: tuple[float, float]) -> list[float]:
    """The range of a map's axis around these values: a margin each side, at least `least` wide, within the limits
    (one city alone still shows its country and neighbours)."""
    low, high = min(values) - margin, max(values) + margin
    if high - low < least:
        middle = (low + high) / 2
        low, high = middle - least / 2, middle + least / 2
    return [round(max(limits[0], low), 2), round(min(limits[1], high), 2)]


# One colour per closing class, kept across cities and months so the bars read alike everywhere.
CLASS_COLOURS = {"COMPLETED": "#2e7d32", "ENFORCEMENT": "#66bb6a", "NO_VIOLATION": "#9e9d24", "DUPLICATE": "#8d6e63",
                 "WORK_ORDER": "#ef6c00", "REFERRED": "#fbc02d", "NOT_RESPONSIBLE": "#bcaaa4", "INSUFFICIENT_INFO": "#90a4ae",
                 "DEFERRED": "#7e57c2", "AUTOMATED": "#5c6bc0", "BOILERPLATE": "#e57373", "EMPTY": "#c62828", "OTHER": "#757575"}


def classes_figure(detail: EndpointFigures) -> dict[str, Any] | None:
    """Closings per month, stacked by class."""
    figures = detail.accuracy_detail
    months = figures["classes_by_month"] if figures else []
    if not months:
        return None
    data = [{"type": "bar", "name": name, "marker": {"color": colour}, "x": [m["month"] for m in months],
             "y": [m["classes"].get(name, 0) for m in months]}
            for name, colour in CLASS_COLOURS.items() if any(name in m["classes"] for m in months)]
    return {"data": data, "layout": {**LAYOUT, "title": _title("Closings by what their note says, per month"), "barmode": "stack",
                                     "yaxis": {"title": {"text": "closings"}},
                                     "xaxis": {"type": "category"}}}


def closing_figure(detail: EndpointFigures) -> dict[str, Any] | None:
    """How long tickets took from request to closing, in widening buckets (a log scale of time)."""
    figures = detail.accuracy_detail
    buckets = figures["time_to_close"] if figures else []
    if not any(b["closed"] for b in buckets):
        return None
    colours = ["#c62828" if n == 0 else "#1565c0" for n, _ in enumerate(buckets)]
    data = [{"type": "bar", "name": "closings", "marker": {"color": colours}, "x": [b["bucket"] for b in buckets],
             "y": [b["closed"] for b in buckets]}]
    return {"data": data, "layout": {**LAYOUT, "title": _title("Time from request to closing"), "yaxis": {"title": {"text": "closings"}},
                                     "xaxis": {"type": "category"}}}
