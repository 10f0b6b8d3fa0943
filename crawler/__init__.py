"""Open311 Status crawler: registry → probes → append-only records under data/."""

__version__ = "0.1.0"
