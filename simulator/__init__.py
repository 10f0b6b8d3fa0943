"""A small simulated Open311 world on loopback, for the demo and the tests.

Each city is a real HTTP server on its own 127.0.0.x address answering GeoReport v2 in JSON
or XML. Time is virtual: the caller sets the fleet's clock before each crawl, so days of
history take seconds. Tickets are generated deterministically from the clock, so a city is
stateless and every run sees the same world.
"""
