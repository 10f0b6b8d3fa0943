"""What an app developer asks before building on a city's API: which formats answer, whether it pages and how big a
page is, whether service definitions answer, whether a key is needed, how many calls it allows, where its docs are.

From the registry's account of it (the endpoint record's access, crawler 0.8.0 on) and from what the calls found:
the formats and definitions that answered in 7 days, the largest page seen, and the refusals (429) of 30 days.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from records import iso

RATE_SPAN = timedelta(days=30)
RATE_WINDOW = timedelta(minutes=1)  # limits are mostly counted over a rolling minute (crawler/client.py's pacer too)
PAGED = ("requests", "backfill")


def build_on(access: dict[str, Any] | None, implemented: dict[str, Any] | None, calls: pd.DataFrame, now: datetime) -> dict[str, Any]:
    """{formats, paging, definitions, key, rate_limit, docs}: each fact with where it comes from. access: the registry's
    (None for a record older than crawler 0.8.0: not known); implemented: metrics.quality.comprehensiveness_of."""
    access = access or {}
    formats, pages = implemented["formats"] if implemented else None, paging(access, implemented, calls)
    key = access.get("api_key") or ("none" if access else None)
    docs = access.get("docs")
    return {
        "formats": formats, "paging": pages, "definitions": definitions(implemented), "key": key,
        "rate_limit": {"documented": access.get("rate_limit"), "learned": learned_rate(calls, now)},
        "docs": docs if isinstance(docs, str) and docs.startswith(("https://", "http://")) else None,  # data/ is not trusted to hold a web address
        # The index's question: which cities take JSON, page, and need no key (a key that only raises the limit is not needed).
        "fits": {"json": bool(formats and "json" in formats),
                 "pages": pages["seen"] == "works" or (pages["documented"] is True and pages["seen"] in ("not seen", None)),
                 "no_key": key in ("none", "raises_limit")},
    }


def paging(access: dict[str, Any], implemented: dict[str, Any] | None, calls: pd.DataFrame) -> dict[str, Any]:
    """{documented: true | false | null (the registry's pages), page_size (the registry's limit), largest_page (the most
    requests one answer of the 30 days held), seen: works | ignored | fails | not seen (page=2, metrics.quality)}."""
    first = calls[calls["method"].isin(PAGED) & (calls["outcome"] == "ok") & (calls["page"].isna() | (calls["page"] == 1))]
    largest = first["items"].max() if len(first) else None
    return {"documented": access.get("pages"), "page_size": access.get("limit"),
            "largest_page": None if largest is None or pd.isna(largest) else int(largest),
            "seen": implemented["paging"] if implemented else None}


def definitions(implemented: dict[str, Any] | None) -> dict[str, Any] | None:
    """{services, with_definition (the services whose definition answered), share, calls_answered (of the calls for a
    definition in 7 days, the share that answered: a service without metadata has none to give, and answers 404)}."""
    if not implemented:
        return None
    return {"services": implemented["services"], "with_definition": implemented["definitions"],
            "share": implemented["definitions_share"], "calls_answered": implemented["methods"].get("service_definition")}


def learned_rate(calls: pd.DataFrame, now: datetime) -> dict[str, Any] | None:
    """What the refusals (429 Too Many Requests) of the 30 days before now taught: {refusals, days (distinct UTC days
    with one), latest, per_minute (the fewest calls in the minute before a refusal: as many as it allowed),
    retry_after_s (the latest refusal's Retry-After, or null)}; None when it refused nothing."""
    recent = calls[(calls["probed_at"] > pd.Timestamp(now - RATE_SPAN)) & (calls["probed_at"] <= pd.Timestamp(now))]
    refused = recent[recent["outcome"] == "rate_limited"]
    if refused.empty:
        return None
    allowed = []
    # The whole crawl of each refusal: a minute before one may reach back past the start of the 30 days.
    for _, group in calls[calls["crawl"].isin(refused["crawl"].unique())].groupby("crawl", sort=False):
        group = group.sort_values("probed_at", kind="stable")
        times = group["probed_at"].to_numpy()
        inside = ((group["probed_at"] > pd.Timestamp(now - RATE_SPAN)) & (group["probed_at"] <= pd.Timestamp(now))).to_numpy()
        for n in np.flatnonzero((group["outcome"] == "rate_limited").to_numpy() & inside):
            before = times[:n]
            allowed.append(int((before > times[n] - np.timedelta64(RATE_WINDOW)).sum()))
    latest = refused.sort_values("probed_at", kind="stable").iloc[-1]
    taught = [a for a in allowed if a > 0]  # a refusal of the first call of a minute teaches nothing of the pace
    retry = latest.get("retry_after_s")
    return {"refusals": len(refused), "days": int(refused["probed_at"].dt.normalize().nunique()), "latest": iso(latest["probed_at"]),
            "per_minute": min(taught) if taught else None,
            "retry_after_s": None if retry is None or pd.isna(retry) else float(retry)}
