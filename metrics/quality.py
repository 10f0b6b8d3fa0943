"""Comprehensiveness and conformance of one endpoint, from its probe records.

Comprehensiveness: how much of GeoReport v2 the endpoint implements and that works: services,
definitions, attributes, formats and methods that answered, paging. Conformance: the findings
(records/findings.py) seen in its answers, each costing the score its severity's penalty.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from metrics.status import in_window
from records.findings import FINDINGS, PENALTY, severity

QUALITY_SPAN = timedelta(days=7)
METHODS = ("discovery", "services", "service_definition", "requests", "request")


def recent_calls(probes: pd.DataFrame, now: datetime) -> dict[str, dict[str, np.ndarray]]:
    """Each endpoint's calls of the 7 days before now as plain arrays, in the frame's order: the
    figures below are a few operations on a few hundred calls, cheaper on arrays than on frames."""
    recent = probes[in_window(probes["probed_at"], now, QUALITY_SPAN)]
    codes, names = pd.factorize(recent["endpoint"])
    order = np.argsort(codes, kind="stable")
    columns = {name: recent[name].to_numpy(dtype=object)[order] for name in ("method", "outcome", "target", "findings", "format")}
    columns |= {name: recent[name].to_numpy(dtype="float64", na_value=np.nan)[order] for name in ("items", "page", "http_status")}
    columns["probed_at"] = recent["probed_at"].to_numpy()[order]
    starts = np.searchsorted(codes[order], np.arange(len(names) + 1))
    return {str(name): {column: values[starts[i]:starts[i + 1]] for column, values in columns.items()} for i, name in enumerate(names)}


def comprehensiveness(probes: pd.DataFrame, now: datetime) -> dict[str, Any] | None:
    """What answered in the 7 days before now, of one endpoint's calls; None when nothing was called then."""
    return next((comprehensiveness_of(calls) for calls in recent_calls(probes, now).values()), None)


def comprehensiveness_of(c: dict[str, np.ndarray]) -> dict[str, Any]:
    """What answered among one endpoint's recent_calls()."""
    ok = c["outcome"] == "ok"
    services = np.flatnonzero(ok & (c["method"] == "services"))
    services = services[np.argsort(c["probed_at"][services], kind="stable")]
    count = int(c["items"][services[-1]]) if services.size else None
    definitions = ok & (c["method"] == "service_definition")
    defined = len({t for t in c["target"][definitions] if isinstance(t, str)})
    attributes = c["items"][definitions]
    attributes = attributes[~np.isnan(attributes)]
    called = {}
    for method in sorted(set(c["method"])):
        mine = c["method"] == method
        called[method] = round(float(ok[mine].sum() / mine.sum()), 4)
    page = c["page"]
    later = (c["method"] == "requests") & (np.where(np.isnan(page), 1, page) > 1)
    if not later.any():
        paging = "not seen"  # no first page was full enough to ask for a second
    elif any(isinstance(f, dict) and "paging_ignored" in f for f in c["findings"][later]):
        paging = "ignored"
    else:
        paging = "works" if ok[later].any() else "fails"
    return {
        "services": count,
        "definitions": defined,
        "definitions_share": round(defined / count, 4) if count else None,
        "attributes_mean": (round(float(attributes.mean()), 2) if attributes.size else float("nan")) if defined else None,
        "formats": sorted(set(c["format"][services])),
        "methods": {m: called[m] for m in METHODS if m in called},
        "paging": paging,
    }


def conformance(probes: pd.DataFrame, now: datetime) -> dict[str, Any] | None:
    """Score 0-100 and the findings behind it, from one endpoint's calls of the 7 days before now;
    None without an answer then."""
    return next((conformance_of(calls) for calls in recent_calls(probes, now).values()), None)


def conformance_of(c: dict[str, np.ndarray]) -> dict[str, Any] | None:
    """conformance() of one endpoint's recent_calls()."""
    answered = ~np.isnan(c["http_status"])
    if not answered.any():
        return None
    seen: dict[str, dict[str, Any]] = {}
    for method, findings in zip(c["method"][answered], c["findings"][answered]):
        if not isinstance(findings, dict):
            continue
        for code, example in findings.items():
            if code not in FINDINGS:
                continue  # a code from a newer crawler than this build
            item = seen.setdefault(code, {"code": code, "severity": severity(code), "method": method, "example": example,
                                          "calls": 0, "meaning": FINDINGS[code]})
            item["calls"] += 1
    items = sorted(seen.values(), key=lambda f: (-PENALTY[f["severity"]], f["code"]))
    return {"score": max(0, 100 - sum(PENALTY[f["severity"]] for f in items)), "findings": items}
