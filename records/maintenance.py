"""Planned maintenance: whether moments fall inside an endpoint's declared windows (the registry's maintenance).

A window recurs in the endpoint's time zone: on the days it names (daily, or weekdays), from its local
start to its local end, crossing midnight when the end is earlier (it then ends the next day, and
its days are the days it starts on). Here, beside the records, because the windows are stored with
the registry entry of each crawl (the endpoints kind), and both the crawler's console line and the
metrics apply them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def minutes(hhmm: str) -> int:
    """A local time HH:MM as minutes after midnight."""
    hours, mins = hhmm.split(":")
    return int(hours) * 60 + int(mins)


def covers(weekday: np.ndarray, minute: np.ndarray, windows: Sequence[dict[str, Any]]) -> np.ndarray:
    """For local moments given as their weekday (0 is Monday) and minute of the day, whether any window (as stored:
    {days, from, to, source}) holds them."""
    out = np.zeros(len(weekday), dtype=bool)
    for window in windows:
        days = list(range(7)) if window["days"] == "daily" else [WEEKDAYS.index(d) for d in window["days"]]
        start, end = minutes(window["from"]), minutes(window["to"])
        on = np.isin(weekday, days)
        if start < end:
            out |= on & (minute >= start) & (minute < end)
        else:  # crosses midnight: the evening of a day it names, or the morning after one
            out |= (on & (minute >= start)) | (np.isin((weekday - 1) % 7, days) & (minute < end))
    return out


def holds(moment: datetime, windows: Sequence[dict[str, Any]], timezone: str) -> bool:
    """Whether one moment falls inside any of the windows, in the endpoint's time zone."""
    local = moment.astimezone(ZoneInfo(timezone))
    return bool(covers(np.array([local.weekday()]), np.array([local.hour * 60 + local.minute]), windows)[0])
