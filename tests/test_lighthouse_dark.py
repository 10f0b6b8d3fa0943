"""The page budget (issue 18) in dark mode: the same four pages, on the dark paper, accessible (100: every text's
contrast included) on Lighthouse's simulated phone (tests/lighthouse.py). Their speed is judged in light mode: the
colours are all that differ."""

from __future__ import annotations

import pytest

from tests.lighthouse import PAGES, accessible, lighthouse, served

__all__ = ["served"]  # the fixture, for pytest


@pytest.mark.parametrize("page", PAGES)
def test_the_page_is_accessible_in_dark_mode_on_a_phone(served, page):
    accessible(lighthouse(f"{served}/{page}", "dark"), "dark")
