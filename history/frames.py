"""The calls of a history as one table: a row per HTTP call, the columns of a probe record."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from records.status import statuses
from vocabulary import STAMP

CATEGORIES = ("endpoint", "method", "outcome", "format")  # few distinct values: comparisons on codes, not strings


def probes_frame(probes: list[dict[str, Any]]) -> pd.DataFrame:
    """The calls from probe records as dicts (records.read), for a history made of records (History.of)."""
    columns = ["endpoint", "crawl", "method", "probed_at", "outcome", "http_status", "elapsed_ms", "items", "error", "page",
               "format", "findings", "target", "rtt_ms", "server_ms", "retry_after_s"]
    frame = pd.DataFrame.from_records(probes, columns=columns)
    frame["crawl"] = pd.to_datetime(frame["crawl"], utc=True, format="ISO8601")
    frame["probed_at"] = pd.to_datetime(frame["probed_at"], utc=True, format="ISO8601")
    for column in ("elapsed_ms", "page", "rtt_ms", "server_ms", "retry_after_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("method", "outcome", "format"):
        frame[column] = frame[column].astype("category")
    return frame


def calls_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The same table, with every field, from records.terse's columns (probed_at as seconds after the crawl)."""
    frame = pd.DataFrame(columns)
    codes, stamps = pd.factorize(frame["crawl"])  # a few thousand crawls among the calls: each parsed once
    frame["crawl"] = pd.to_datetime(stamps, utc=True, format=STAMP).take(codes)
    frame["probed_at"] = frame["crawl"] + pd.to_timedelta(frame["probed_at"].astype("int64"), unit="s")
    for column in ("elapsed_ms", "http_status", "items", "page", "retry_after_s", "rtt_ms", "server_ms"):  # null: NaN
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("bytes", "attempt"):
        frame[column] = frame[column].astype("int64")
    for column in ("error", "target", "content_type", "crawler"):
        frame[column] = frame[column].astype(object)
    for column in CATEGORIES:
        frame[column] = frame[column].astype("category")
    return frame


def crawl_statuses(probes: pd.DataFrame) -> pd.DataFrame:
    """One row per (endpoint, crawl) with its status by the rule of records/status.py, sorted by endpoint
    and time: endpoint, crawl, status, failure (the last GET services outcome of a crawl that was down)."""
    if probes.empty:
        return pd.DataFrame({"endpoint": pd.Series(dtype=str), "crawl": pd.Series(dtype="datetime64[ns, UTC]"),
                             "status": pd.Series(dtype=str), "failure": pd.Series(dtype=object)})
    keys = probes[["endpoint", "crawl"]].astype({"endpoint": object})
    codes, uniques = pd.MultiIndex.from_frame(keys).factorize(sort=True)
    crawls = cast(pd.MultiIndex, uniques)  # a MultiIndex's factorize gives one (the stubs say any index)
    order = np.argsort(probes["probed_at"].to_numpy(), kind="stable")
    found = statuses(codes, len(crawls), probes["method"].to_numpy(dtype=object), probes["outcome"].to_numpy(dtype=object),
                     order, _floats(probes["page"]), _floats(probes["elapsed_ms"]))
    out = crawls.to_frame(index=False)
    out.columns = ["endpoint", "crawl"]
    out["status"], out["failure"] = found.status, found.failure
    return out


def _floats(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
