"""Small statistics the accuracy figures need: a share with its 95 % Wilson interval, or the reason
there is none."""

from __future__ import annotations

import math
from typing import Any

Z95 = 1.959963984540054
MIN_N = 30  # below this many cases a share is "not enough data", never a number


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of hits / n (n > 0): honest near 0 and 1, unlike the normal one."""
    if n <= 0 or not 0 <= hits <= n:
        raise ValueError(f"need 0 <= hits <= n and n > 0; got {hits} of {n}")
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, round(centre - half, 12)), min(1.0, round(centre + half, 12))  # no -0.0000000001


def share(hits: int, n: int, measurable: bool = True, min_n: int = MIN_N) -> dict[str, Any]:
    """A share as the site shows it: the value with n and its interval, or why there is none."""
    if not measurable:
        return {"value": None, "n": n, "low": None, "high": None, "reason": "not measurable"}
    if n < min_n:
        return {"value": None, "n": n, "low": None, "high": None, "reason": "not enough data"}
    low, high = wilson(hits, n)
    return {"value": round(hits / n, 4), "n": n, "low": round(low, 4), "high": round(high, 4), "reason": None}
