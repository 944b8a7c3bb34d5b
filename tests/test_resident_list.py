"""Reading a resident list and checking its rows: every problem named with its line."""

from __future__ import annotations

from datetime import date

import pytest

from kizuna.core.status import ChannelName
from kizuna.resident_list import ListError, RowsRefused, check_row, json_rows, read_csv

TODAY = date(2026, 11, 22)
VARIANTS = {"ja", "ja-easy"}
GOOD = {"channel": "email", "email": "a@example.com", "due_date": "2027-03-01",
        "consent_date": "2026-11-01"}  # fmt: skip


def test_csv_lines_are_file_lines_and_blank_rows_are_skipped():
    data = (
        b"channel,email,due_date,consent_date\n"
        b"email,a@example.com,2027-03-01,2026-11-01\n"
        b",,,\n"
        b'line,,"2027-03-01",2026-11-01\n'
    )
    rows = read_csv(data)
    assert [line for line, _ in rows] == [2, 4]
    assert rows[1][1]["channel"] == "line"


def test_excel_bom_and_shift_jis_are_read():
    text = "channel,nickname,birth_date,consent_date\nline,さくら,2026/10/1,2026-11-01\n"
    for data in (b"\xef\xbb\xbf" + text.encode("utf-8"), text.encode("cp932")):
        [(line, row)] = read_csv(data)
        assert (line, row["nickname"], row["channel"]) == (2, "さくら", "line")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("channel,email,due_date,consent_date,phone", "unknown column.*'phone'"),
        ("channel,email,due_date", "missing column.*consent_date"),
        ("channel,email,consent_date", "missing column.*due_date or birth_date"),
        ("", "missing column"),
    ],
)
def test_a_bad_header_refuses_the_whole_list(header, reason):
    with pytest.raises(ListError, match=reason):
        read_csv(f"{header}\nemail,a@example.com,2027-03-01,2026-11-01\n".encode())


def test_not_text():
    with pytest.raises(ListError, match="neither UTF-8 nor Shift_JIS"):
        read_csv(b"\xff\xfe\x00\x81\xff")


def test_too_many_values_is_a_row_problem():
    [(line, row)] = read_csv(b"channel,due_date,consent_date\nline,2027-03-01,2026-11-01,x\n")
    with pytest.raises(RowsRefused) as refused:
        check_row(line, row, variants=VARIANTS, today=TODAY)
    assert [(p.line, p.field) for p in refused.value.problems] == [(2, "row")]


@pytest.mark.parametrize(
    ("changes", "problems"),
    [
        ({"channel": "fax"}, {"channel": "line or email"}),
        ({"email": ""}, {"email": "needs the address"}),
        ({"email": "no-at-sign"}, {"email": "not a valid email"}),
        ({"due_date": ""}, {"due_date": "give a due date"}),
        ({"due_date": "01/03/2027"}, {"due_date": "YYYY-MM-DD"}),
        ({"due_date": "2027-02-30"}, {"due_date": "day is out of range"}),
        ({"due_date": "2030-01-01"}, {"due_date": "more than 300 days"}),
        ({"birth_date": "2027-01-01", "due_date": ""}, {"birth_date": "in the future"}),
        ({"consent_date": ""}, {"consent_date": "agreed"}),
        ({"consent_date": "2026-12-01"}, {"consent_date": "in the future"}),
        ({"variant": "en"}, {"variant": "unknown variant 'en'"}),
        ({"nickname": "x" * 41}, {"nickname": "longer than 40"}),
        ({"reference": "r" * 65}, {"reference": "longer than 64"}),
        ({"channel": "fax", "consent_date": "x", "variant": "x"},
         {"channel": "", "consent_date": "YYYY-MM-DD", "variant": ""}),  # every problem
    ],
)  # fmt: skip
def test_row_problems(changes, problems):
    with pytest.raises(RowsRefused) as refused:
        check_row(7, {**GOOD, **changes}, variants=VARIANTS, today=TODAY)
    found = {p.field: p.reason for p in refused.value.problems}
    assert set(found) == set(problems)
    for field, text in problems.items():
        assert text in found[field]
    assert {p.line for p in refused.value.problems} == {7}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ("email", "a@example.com", date(2027, 3, 1), None, "ja")),
        ({"email": "A@Example.COM"}, ("email", "A@example.com", date(2027, 3, 1), None, "ja")),
        ({"channel": "LINE", "email": "ignored", "variant": "ja-easy"},
         ("line", None, date(2027, 3, 1), None, "ja-easy")),
        ({"due_date": "", "birth_date": "2026/9/3"},
         ("email", "a@example.com", None, date(2026, 9, 3), "ja")),
    ],
)  # fmt: skip
def test_good_rows(changes, expected):
    resident = check_row(3, {**GOOD, **changes}, variants=VARIANTS, today=TODAY)
    found = (resident.channel, resident.address, resident.due_date, resident.birth_date,
             resident.variant)  # fmt: skip
    assert found == expected
    assert resident.channel in set(ChannelName) and resident.consent_date == date(2026, 11, 1)


def test_json_rows_are_numbered_from_one_and_unknown_fields_refused():
    rows = json_rows([GOOD, {**GOOD, "phone": "1"}, {**GOOD, "nickname": None}])
    assert [line for line, _ in rows] == [1, 2, 3]
    assert rows[1][1] == {"": "unknown field(s): phone"}
    assert rows[2][1]["nickname"] == ""
