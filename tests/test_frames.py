"""The researchers' loader: DataFrames of any kind for any days, and the same tables in SQLite."""

import json
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from history.tables import columns, frame, write_sqlite
from records.read import read_data
from tests.conftest import ROOT

DATA = ROOT / "tests" / "fixtures" / "history"


def test_probes_for_a_date_range_come_typed():
    problems = []
    probes = frame(DATA, "probes", since="2026-11-15", until="2026-11-20", problems=problems)
    assert list(probes.columns) == columns("probes")
    assert str(probes["probed_at"].dtype) == "datetime64[us, UTC]" and probes["probed_at"].min() >= pd.Timestamp("2026-11-15", tz="UTC")
    assert set(probes["endpoint"]) == {"alpha", "beta"}
    assert problems and "2026-11-20.jsonl:3" in problems[0]  # the corrupt line the build also skips
    everything = frame(DATA, "probes")
    assert len(everything) == len(read_data(DATA, kinds=("probes",)).records["probes"]) > len(probes)


def test_catalogues_and_ticket_events():
    events = frame(DATA, "events", until="2026-11-15")
    assert sorted(events["id"]) == ["A1", "A2", "A3", "A4", "A4", "A5"]
    assert events.loc[events["gone"], "via"].tolist() == ["confirm"]
    assert list(frame(DATA, "services").columns) == columns("services")  # none in this history: still the columns
    with pytest.raises(ValueError, match="unknown kind 'probe'"):
        frame(DATA, "probe")


def test_the_sqlite_file_has_every_table(tmp_path):
    records = read_data(DATA).records
    counts = write_sqlite(records, tmp_path / "x.sqlite")
    with sqlite3.connect(tmp_path / "x.sqlite") as db:
        for kind, n in counts.items():
            assert db.execute(f'SELECT count(*) FROM "{kind}"').fetchone()[0] == n == len(records[kind])
        findings = db.execute("SELECT findings FROM probes WHERE findings != '{}' LIMIT 1").fetchone()[0]
        assert isinstance(json.loads(findings), dict)  # nested values as JSON text
        assert db.execute("SELECT id FROM events WHERE gone = 1").fetchall() == [("A4",)]
    result = subprocess.run([sys.executable, "-m", "history.tables", "--data", str(DATA), "--out", str(tmp_path / "y.sqlite"),
                             "--since", "2026-11-15"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and "probes" in result.stdout
