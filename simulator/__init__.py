"""A simulated Open311 world on loopback: the default of `make demo`, and the ground truth of the tests.

scenario.py   a city in YAML: services, ticket arrivals and lives, quirks, behaviour over time
world.py      the ground truth, built once from the scenarios and a seed, exported as files
server.py     one city's GeoReport v2 server, answering from the truth (simulated or real time)
fleet.py      the cities on their loopback addresses, in this process or a child one
virtual.py    the crawler's client on a simulated clock the servers move
hostile.py    servers that misbehave on the wire (hang, drip, bombs, resets) for the crawler's tests
demo.py       make demo: a month of the default scenario, crawled and built
"""
