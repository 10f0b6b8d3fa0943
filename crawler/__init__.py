"""Open311 Status crawler: registry → probes → append-only records under data/."""

__version__ = "0.8.0"
# Sent in every User-Agent, so a city's operator can find out who is calling and why.
PROJECT_URL = "https://github.com/open311-status/open311-status"
