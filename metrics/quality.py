"""Comprehensiveness and conformance of one endpoint, from its probe records.

Comprehensiveness: how much of GeoReport v2 the endpoint implements and that works: services,
definitions, attributes, formats and methods that answered, paging. Conformance: the findings
(records/findings.py) seen in its answers, each costing the score its severity's penalty.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from metrics.status import in_window
from records.findings import FINDINGS, PENALTY, severity

QUALITY_SPAN = timedelta(days=7)
METHODS = ("discovery", "services", "service_definition", "requests", "request")


def comprehensiveness(probes: pd.DataFrame, now: datetime) -> dict[str, Any] | None:
    """What answered in the 7 days before now; None when nothing was called then."""
    recent = probes[in_window(probes["probed_at"], now, QUALITY_SPAN)]
    if recent.empty:
        return None
    ok = recent[recent["outcome"] == "ok"]
    services = ok[ok["method"] == "services"].sort_values("probed_at", kind="stable")
    count = int(services.iloc[-1]["items"]) if not services.empty else None
    definitions = ok[ok["method"] == "service_definition"]
    defined = int(definitions["target"].nunique())
    called = recent.groupby("method")["outcome"].apply(lambda s: round(float((s == "ok").mean()), 4)).to_dict()
    listed = recent[recent["method"] == "requests"]
    later = listed[listed["page"].fillna(1) > 1]
    ignored = later["findings"].apply(lambda f: isinstance(f, dict) and "paging_ignored" in f)
    if later.empty:
        paging = "not seen"  # no first page was full enough to ask for a second
    elif ignored.any():
        paging = "ignored"
    else:
        paging = "works" if (later["outcome"] == "ok").any() else "fails"
    return {
        "services": count,
        "definitions": defined,
        "definitions_share": round(defined / count, 4) if count else None,
        "attributes_mean": round(float(definitions["items"].mean()), 2) if defined else None,
        "formats": sorted(set(services["format"])),
        "methods": {m: called[m] for m in METHODS if m in called},
        "paging": paging,
    }


def conformance(probes: pd.DataFrame, now: datetime) -> dict[str, Any] | None:
    """Score 0-100 and the findings behind it, from the 7 days before now; None without an answer then."""
    recent = probes[in_window(probes["probed_at"], now, QUALITY_SPAN)]
    answered = recent[recent["http_status"].notna()]
    if answered.empty:
        return None
    seen: dict[str, dict[str, Any]] = {}
    for method, findings in zip(answered["method"], answered["findings"]):
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
