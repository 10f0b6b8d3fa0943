"""How each endpoint compares with the others, and how the platforms compare: from the summaries."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from figures import EndpointSummary

# figure -> (how to read it from a summary, whether more is better)
FIGURES: dict[str, tuple[Callable[[EndpointSummary], float | None], bool]] = {
    "uptime_30d": (lambda e: e.uptime["30d"], True),
    # The server's own time, not the total: a city across an ocean from the runner is not slower for it (crawler/stopwatch.py).
    "server_p50": (lambda e: e.server_ms["p50"] if e.server_ms else None, False),
    "requests_per_day": (lambda e: e.requests_per_day, True),
    "conformance": (lambda e: e.conformance, True),
}


def percentiles(endpoints: list[EndpointSummary]) -> dict[str, dict[str, float | None]]:
    """For each endpoint and figure, the share of the other endpoints with a figure that it does
    better than or equal to (0 to 100), so 100 is the best; None without a figure of its own."""
    out: dict[str, dict[str, float | None]] = {e.id: {} for e in endpoints}
    for name, (read, more_is_better) in FIGURES.items():
        values = {e.id: v for e in endpoints if (v := read(e)) is not None}
        for e in endpoints:
            mine = values.get(e.id)
            others = [v for k, v in values.items() if k != e.id]
            if mine is None or not others:
                out[e.id][name] = None
                continue
            beaten = sum(1 for v in others if (mine >= v if more_is_better else mine <= v))
            out[e.id][name] = round(100 * beaten / len(others), 1)
    return out


# The comparison at the top of each endpoint's page: FIGURES and the accuracy risk (lower is better).
PEER_FIGURES: dict[str, tuple[Callable[[EndpointSummary], float | None], bool]] = {
    **FIGURES, "accuracy_risk": (lambda e: (e.accuracy or {}).get("risk"), False)}


def peers(endpoints: list[EndpointSummary]) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, list[float]]]:
    """For each endpoint and figure of PEER_FIGURES: {"value", "median" (of every endpoint with the figure, this one
    included), "rank" (1 is the best; ties share it; None without a figure), "of" (how many have it), "better":
    "higher" | "lower"}; and each figure's values, sorted, for the chart that marks the city among them."""
    out: dict[str, dict[str, dict[str, Any]]] = {e.id: {} for e in endpoints}
    values: dict[str, list[float]] = {}
    for name, (read, more_is_better) in PEER_FIGURES.items():
        known = {e.id: v for e in endpoints if (v := read(e)) is not None}
        values[name] = sorted(known.values())
        middle = _median(list(known.values()))
        for e in endpoints:
            mine = known.get(e.id)
            rank = None if mine is None else _rank(mine, known.values(), more_is_better)
            out[e.id][name] = {"value": mine, "median": middle, "rank": rank, "of": len(known),
                                  "better": "higher" if more_is_better else "lower"}
    return out, values


def _rank(mine: float, values: Any, more_is_better: bool) -> int:
    """1 for the best of values (mine among them); ties share a rank."""
    return 1 + sum(1 for v in values if (v > mine if more_is_better else v < mine))


def _median(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 4) if known else None


def platforms(endpoints: list[EndpointSummary]) -> list[dict[str, Any]]:
    """One row per platform: how many endpoints, how many answer now, and the medians of their figures."""
    groups: dict[str, list[EndpointSummary]] = {}
    for e in endpoints:
        groups.setdefault(e.platform or "unknown", []).append(e)
    rows = []
    for platform, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rows.append({
            "platform": platform,
            "endpoints": len(members),
            "answering": sum(1 for e in members if e.status in ("up", "degraded")),
            **{name: _median([read(e) for e in members]) for name, (read, _) in FIGURES.items()},
            # How many of the members have each figure: a median of the few that show it speaks only for them.
            "measured": {name: sum(read(e) is not None for e in members) for name, (read, _) in FIGURES.items()},
            "members": [{"id": e.id, "name": e.name, "status": e.status} for e in members],
        })
    return rows


def state_of(endpoints: list[EndpointSummary]) -> dict[str, Any]:
    """The state of Open311 in a few figures, for the top of the index: how many watched endpoints answer now, how many
    are stale, and the best and worst by 30-day uptime (the window the league table shows) and by accuracy risk (lower
    is better). Each end is {"value", "endpoints": [summaries, by name]}: every endpoint tied at it, for a tie is said as
    one ("8 cities at 100 %"), never settled by the alphabet. None where fewer than two endpoints have the figure, or
    where all of them are tied (there is no best then)."""
    def ends(read: Any, more_is_better: bool) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        known = sorted((e for e in endpoints if read(e) is not None), key=lambda e: (e.name.casefold(), e.id))
        values = {read(e) for e in known}
        if len(known) < 2 or len(values) < 2:
            return None, None
        best, worst = (max(values), min(values)) if more_is_better else (min(values), max(values))
        return ({"value": best, "endpoints": [e for e in known if read(e) == best]},
                {"value": worst, "endpoints": [e for e in known if read(e) == worst]})
    uptime = ends(lambda e: e.uptime["30d"], True)
    risk = ends(lambda e: (e.accuracy or {}).get("risk"), False)
    return {"watched": len(endpoints), "answering": sum(1 for e in endpoints if e.status in ("up", "degraded")),
            "down": sum(1 for e in endpoints if e.status == "down"), "stale": sum(1 for e in endpoints if e.stale),
            "uptime_window": "30d", "best_uptime": uptime[0], "worst_uptime": uptime[1], "best_accuracy": risk[0],
            "worst_accuracy": risk[1]}


def uptime_ranks(endpoints: list[EndpointSummary]) -> dict[str, tuple[int, int]]:
    """Per endpoint with a 30-day uptime, its rank among those that have one (1 is the best; ties share a rank) and
    how many they are: what each endpoint's social image says."""
    known = {e.id: e.uptime["30d"] for e in endpoints if e.uptime["30d"] is not None}
    return {key: (_rank(value, known.values(), True), len(known)) for key, value in known.items()}
