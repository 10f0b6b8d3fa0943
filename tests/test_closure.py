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
    ("Resolved Crew visited the site and spoke to the owner", "OTHER"),  # no rule for it: said, not guessed
    ("Resolved Pothole patched and road swept", "COMPLETED"),  # rules version 2
    ("Duplicate. Completed under the original request.", "DUPLICATE"),  # the first class in order wins
])
def test_reading_a_note(note, expected):
    assert classify(note) == expected


def test_clean_keeps_what_the_city_wrote():
    assert clean("Case Resolved   Pot hole <b>repaired</b>") == "Pot hole repaired"


def test_almost_every_real_koeln_note_gets_a_class():
    notes = [r.get("status_note") for r in json.loads((REALWORLD / "koeln-2024.requests.json").read_text())]
    classes = [classify(n) for n in notes]
    assert classes.count("OTHER") == 0
    assert classes.count("AUTOMATED") > 50  # "Das Anliegen wurde erstellt.": the note every new request gets


def test_the_rules_are_versioned():
    assert isinstance(rules()["version"], int)


@pytest.mark.parametrize("note, shown", [
    ("Resolved Replaced 100MH ballast with LED lamp..J.P", "Resolved Replaced 100MH ballast with LED lamp [initials]"),
    ("Closed with status: Case Resolved. One syringe recovered in park off of Morton street .RA AM.",
     "Closed with status: Case Resolved. One syringe recovered in park off of Morton street [initials]"),
    ("Resolved 1 syringe recovered JG", "Resolved 1 syringe recovered [initials]"),
    ("Call me on +1 (617) 555-0199 or 617.555.0199", "Call me on [phone] or [phone]"),
    ("Write to Wilder.Muell@awbkoeln.de, please", "Write to [e-mail], please"),
    ("Sgt. Miller checked it; Frau Schmidt was told", "Sgt [name] checked it; Frau [name] was told"),
    ("Resolved No Cause 1/10/22", "Resolved No Cause 1/10/22"),  # a date is not a phone number
    ("Plumbing Violation #14-00649004 created for Buildings", "Plumbing Violation #[phone] created for Buildings"),
])
def test_personal_data_is_redacted_before_a_note_is_shown(note, shown):
    from metrics.closure import redact
    assert redact(note) == shown


def test_shares_come_with_n_and_an_interval_or_a_reason():
    from metrics.stats import share, wilson

    low, high = wilson(0, 50)
    assert low == 0.0 and 0.07 < high < 0.072  # no hit in 50 is not "0 %" but "at most about 7 %"
    # By hand: centre (0.3 + 1.96²/80) / (1 + 1.96²/40) = 0.31753, half-width 0.13678.
    assert share(12, 40) == {"value": 0.3, "n": 40, "low": 0.1807, "high": 0.4543, "reason": None}
    assert share(3, 10)["reason"] == "not enough data" and share(3, 10)["value"] is None
    assert share(0, 0, measurable=False)["reason"] == "not measurable"  # a city without notes
    with pytest.raises(ValueError):
        wilson(5, 3)
