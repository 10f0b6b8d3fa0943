"""Conformance findings: how an answer departs from GeoReport v2, without being a failure.

A finding is (code, method, example): the probe record of the call carries its method and a
``findings`` mapping of code to the first example seen. Findings never change an outcome; they
feed the conformance score. The codes are defined in records/findings.py, with their severity.
"""

from __future__ import annotations

from records.findings import FINDINGS  # the catalogue, shared with the metrics

EXAMPLE_MAX_CHARS = 80
MAX_FINDINGS = 30  # per call: a hostile body cannot grow a record without bound


class Findings:
    """The findings of one call: each code once, with its first example."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def add(self, code: str, example: object = "") -> None:
        """Note a finding once, with its first example (short): enough to fix it, without a record growing with the
        answer."""
        if code not in FINDINGS:
            raise KeyError(f"unknown finding code {code!r}: add it to FINDINGS")  # a bug of ours
        if code not in self.seen and len(self.seen) < MAX_FINDINGS:
            self.seen[code] = str(example)[:EXAMPLE_MAX_CHARS]

    def __contains__(self, code: str) -> bool:
        return code in self.seen

    def as_dict(self) -> dict[str, str]:
        """The findings as stored in a probe record."""
        return dict(sorted(self.seen.items()))
