"""The closure-note classifier (metrics/closure.py) on real notes."""

import json

import pytest

from metrics.closure import CLASSES, classify, clean, labelled, rules, scores
from tests.conftest import REALWORLD

# The rules were written from the labelled set, so its score is a ceiling, not an estimate for new
# cities; the floor keeps a change of rules from quietly breaking what they already get right.
MACRO_F1_FLOOR = 0.95


def test_the_labelled_set_scores_above_the_floor():
    result = scores()
    assert result["examples"] == len(labelled()) >= 80
    assert result["macro_f1"] >= MACRO_F1_FLOOR, result["wrong"]
    assert {e["lang"] for e in labelled()} == {"en", "de", "fi"}
    assert set(result["classes"]) <= set(CLASSES)


def test_the_floor_catches_a_rule_that_reads_one_class_as_another():
    # As if the NO_VIOLATION and WORK_ORDER rules had swapped places.
    swap = {"NO_VIOLATION": "WORK_ORDER", "WORK_ORDER": "NO_VIOLATION"}
    wrong = [dict(e, **{"class": swap.get(e["class"], e["class"])}) for e in labelled()]
    assert scores(wrong)["macro_f1"] < MACRO_F1_FLOOR


@pytest.mark.parametrize("note, expected", [
    ("Case Closed. Case Completed. resolved: nothing found.", "NO_VIOLATION"),  # past the status words
    ("Closed with status: Case Noted.", "BOILERPLATE"),  # status words and nothing else
    ("", "EMPTY"),
    (None, "EMPTY"),
    ("   ", "EMPTY"),
    ("<p>Guten Tag,&nbsp;</p><p>Das Anliegen wurde erstellt.</p>", "AUTOMATED"),  # markup and greeting removed
    ("Resolved Pothole patched and road swept", "OTHER"),  # no rule for it: said, not guessed
    ("Duplicate. Completed under the original request.", "DUPLICATE"),  # the first class in order wins
])
def test_reading_a_note(note, expected):
    assert classify(note) == expected


def test_clean_keeps_what_the_city_wrote():
    assert clean("Case Resolved   Pot hole <b>repaired</b>") == "Pot hole repaired"


@pytest.mark.skipif(not REALWORLD.is_dir(), reason="../shared/realworld is not beside the checkout")
def test_almost_every_real_koeln_note_gets_a_class():
    notes = [r.get("status_note") for r in json.loads((REALWORLD / "koeln-2024.requests.json").read_text())]
    classes = [classify(n) for n in notes]
    assert classes.count("OTHER") == 0
    assert classes.count("AUTOMATED") > 50  # "Das Anliegen wurde erstellt.": the note every new request gets


def test_the_rules_are_versioned():
    assert isinstance(rules()["version"], int)
