"""The figures, as pure functions of the history: no network, no files, no clock.

summarize(history, now) (metrics/summary.py) gives everything the site shows, as one typed value (figures/). The
other modules compute one kind of figure each, from the history's tables (pandas frames of calls
and crawl statuses) or its records (plain dicts as read from data/), with now ending every
window. methodology: templates/methodology.html.
"""
