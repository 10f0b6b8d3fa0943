"""What a crawl stores as changes: the service catalogue, and the accuracy panel's fixed sample of tickets."""

from datetime import timedelta

import yaml

from records import iso
from tests.conftest import NOW, entry, read_lines, record_validator
from tests.test_crawl import run_main


def test_the_service_catalogue_is_stored_as_changes(tmp_path):
    """A service first listed, unchanged, renamed, then gone from the list: four lines in all."""
    from crawler.memory import Memory
    from records import ServiceRecord

    def listing(crawl, *services):
        return {"springfield": [ServiceRecord(crawl=crawl, endpoint="springfield", id=code, name=name, group="Streets",
                                              metadata=False, listed=True) for code, name in services]}

    memory = Memory(tmp_path, NOW)
    stored = []
    for stamp, services in [("2026-11-20T10:00:00Z", [("001", "Pothole"), ("002", "Graffiti")]),
                            ("2026-11-20T10:30:00Z", [("001", "Pothole"), ("002", "Graffiti")]),
                            ("2026-11-20T11:00:00Z", [("001", "Potholes"), ("002", "Graffiti")]),
                            ("2026-11-20T11:30:00Z", [("001", "Potholes")])]:
        listed = listing(stamp, *services)
        new = memory.changed("services", [s.to_dict() for s in listed["springfield"]] + memory.gone(listed, stamp))
        stored += [(d["crawl"][11:16], d["id"], d["name"], d["listed"]) for d in new]
    assert stored == [("10:00", "001", "Pothole", True), ("10:00", "002", "Graffiti", True),
                      ("11:00", "001", "Potholes", True), ("11:30", "002", "Graffiti", False)]



def test_a_crawl_writes_the_catalogue(fleet_registry, tmp_path):
    code, _ = run_main("--endpoints", str(fleet_registry), "--data", str(tmp_path / "data"), "--now", NOW.isoformat(),
                       "--only", "springfield", "--allow-loopback")
    assert code == 0
    services = read_lines(tmp_path / "data", "services")
    assert [(s["id"], s["name"], s["metadata"]) for s in services] == [
        ("001", "Pothole", True), ("002", "Graffiti", False), ("003", "Streetlight out", False),
        ("004", "Missed trash pickup", False), ("005", "Abandoned vehicle", False)]
    validator = record_validator("services")
    for s in services:
        validator.validate(s)



def test_the_accuracy_panel_is_a_fixed_sample_stored_as_changes(fleet, tmp_path):
    from crawler.tickets import in_panel

    path = tmp_path / "endpoints.yaml"
    path.write_text(yaml.safe_dump([entry(id="springfield", base_url=fleet.base_url("springfield"), min_interval_s=0,
                                          panel_rate=0.5)]))
    args = ["--endpoints", str(path), "--data", str(tmp_path / "data"), "--allow-loopback"]
    assert run_main(*args, "--now", NOW.isoformat())[0] == 0
    tickets = {t["id"] for t in read_lines(tmp_path / "data", "tickets")}
    events = read_lines(tmp_path / "data", "events")
    assert {e["id"] for e in events} == {i for i in tickets if in_panel("springfield", i, 0.5)}
    assert 0.3 < len(events) / len(tickets) < 0.7  # about half: 96 tickets a day
    validator = record_validator("events")
    for e in events:
        validator.validate(e)
    assert any(e["notes"] for e in events) and all(e["via"] in ("list", "lookup", "backfill") for e in events)
    assert run_main(*args, "--now", NOW.isoformat())[0] == 0  # the same crawl again: nothing changed but the backfill's progress
    again = read_lines(tmp_path / "data", "events")[len(events):]
    assert all(e["via"] == "backfill" for e in again)
    events = read_lines(tmp_path / "data", "events")
    fleet.clock.set(NOW + timedelta(days=2))  # two days on, panel tickets closed: their new state only
    later = NOW + timedelta(hours=47)
    assert run_main(*args, "--now", later.isoformat())[0] == 0
    new = read_lines(tmp_path / "data", "events")[len(events):]
    assert new and all(in_panel("springfield", e["id"], 0.5) for e in new)
    # Yesterday's panel tickets have left the day's listing: one call asked for them by id.
    followed = [e for e in new if e["via"] == "panel"]
    first_ids = {e["id"] for e in events}
    assert followed and {e["id"] for e in followed} <= first_ids
    panel_call = [p for p in read_lines(tmp_path / "data", "probes") if p["method"] == "panel" and p["crawl"] == iso(later)][0]
    assert panel_call["outcome"] == "ok" and 0 < panel_call["items"] <= 50  # 50 a crawl at most
