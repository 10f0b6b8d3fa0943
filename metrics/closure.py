"""What a closure note says happened: a class, by versioned rules in metrics/data/closure_rules.yaml.

EMPTY when there is no note at all; BOILERPLATE when nothing but status words or a stock phrase
is left; OTHER when no rule matches. scores() measures the rules on the labelled set of real
notes (metrics/data/closure_labelled.yaml); the methodology page publishes the result.
"""

from __future__ import annotations

import functools
import html
import re
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).resolve().parent / "data"
CLASSES = ("COMPLETED", "ENFORCEMENT", "NO_VIOLATION", "DUPLICATE", "WORK_ORDER", "REFERRED", "NOT_RESPONSIBLE",
           "INSUFFICIENT_INFO", "DEFERRED", "AUTOMATED", "BOILERPLATE", "EMPTY", "OTHER")
TAG = re.compile(r"<[^>]+>")
# What may identify a person in a note shown on the site: e-mail addresses, phone numbers, and the
# initials or names officers sign with ("..J.P", "RA AM", "Sgt. Miller").
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"(?<!\w)(\+?\d[\d ()./-]{6,}\d)(?!\w)")
SIGNATURE = re.compile(r"\s*(\.+|\s)(?:[A-Z]\.?){1,3}(?:\s+(?:[A-Z]\.?){1,3})?\.?\s*$")  # also "BPD": errs on privacy's side
TITLED = re.compile(r"\b(Mr|Mrs|Ms|Dr|Sgt|Officer|Insp|Herr|Frau)\.?\s+[A-ZÄÖÜ][\w'-]+")


@functools.cache
def rules() -> dict[str, Any]:
    """The closure-note rules (metrics/data/closure_rules.yaml), compiled once."""
    data = yaml.safe_load((DATA / "closure_rules.yaml").read_text(encoding="utf-8"))
    flags = re.IGNORECASE
    return {
        "version": data["version"],
        "status_words": [re.compile("^" + p, flags) for p in data["status_words"]],
        "greetings": [re.compile(p, flags) for patterns in data["greetings"].values() for p in patterns],
        "classes": [(c["class"], [re.compile(p, flags) for lang in ("en", "de", "fi") for p in c.get(lang, [])])
                    for c in data["classes"]],
    }


def plain(note: str) -> str:
    """The note as text: markup removed, entities decoded, white space collapsed."""
    return " ".join(html.unescape(TAG.sub(" ", note)).split())


def clean(note: str) -> str:
    """The note without markup, status words or greetings, white space collapsed."""
    text = plain(note)
    r = rules()
    changed = True
    while changed:  # "Case Closed. Case Completed. resolved: ..." carries several status words
        changed = False
        for pattern in r["status_words"]:
            stripped = pattern.sub("", text, count=1).strip()
            if stripped != text:
                text, changed = stripped, True
    for pattern in r["greetings"]:
        text = pattern.sub(" ", text)
    return " ".join(text.split())


def classify(note: str | None) -> str:
    """The class of a closing note by the first rule that matches: a plain reading a person can check."""
    if note is None or not note.strip():
        return "EMPTY"
    text = clean(note)
    for name, patterns in rules()["classes"]:
        if any(p.search(text) for p in patterns):
            return str(name)
    return "BOILERPLATE" if not text else "OTHER"


def redact(note: str) -> str:
    """A note fit to show: markup removed, and e-mail addresses, phone numbers, titled names and
    trailing initials replaced (dates and case numbers stay: they identify no one)."""
    text = plain(note)
    text = EMAIL.sub("[e-mail]", text)
    text = PHONE.sub(lambda m: "[phone]" if sum(c.isdigit() for c in m.group(1)) >= 7 and not DATE.fullmatch(m.group(1)) else m.group(1), text)
    text = TITLED.sub(lambda m: f"{m.group(1)} [name]", text)
    return SIGNATURE.sub(" [initials]", text).strip()


DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")


def labelled() -> list[dict[str, str]]:
    """The hand-labelled notes the rules are scored against on the methodology page."""
    notes: list[dict[str, str]] = yaml.safe_load((DATA / "closure_labelled.yaml").read_text(encoding="utf-8"))
    return notes


def scores(examples: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Precision, recall and F1 per class on the labelled set, and their macro average over the
    classes the set has."""
    examples = examples if examples is not None else labelled()
    guessed = [(e["class"], classify(e["text"])) for e in examples]
    per_class = {}
    for name in CLASSES:
        truly = sum(1 for t, _ in guessed if t == name)
        said = sum(1 for _, g in guessed if g == name)
        right = sum(1 for t, g in guessed if t == g == name)
        if not truly and not said:
            continue
        precision = right / said if said else 0.0
        recall = right / truly if truly else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"n": truly, "precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}
    present = [c for c in per_class.values() if c["n"]]
    return {"version": rules()["version"], "examples": len(examples), "classes": per_class,
            "macro_f1": round(sum(c["f1"] for c in present) / len(present), 3) if present else None,
            "wrong": [{"text": e["text"], "class": e["class"], "guessed": g} for e, (_, g) in zip(examples, guessed) if e["class"] != g]}
