"""Local government codes: the modulus-11 check digit on real codes, the 5-digit form."""

from __future__ import annotations

import pytest

from kizuna.core.municipality_code import InvalidCode, check_digit, is_code, normalize_code

# Real codes (総務省 全国地方公共団体コード). The weighted sums by hand (weights 6,5,4,3,2):
# 13101: 6+15+4+0+2 = 27, 27 mod 11 = 5, 11-5 = 6.   01100: 0+5+4+0+0 = 9 → 2.
# 27100: 12+35+4 = 51 → 7 → 4.   47201: 24+35+8+0+2 = 69 → 3 → 8.
# 13104: 6+15+4+0+8 = 33, remainder 0 → 11 → last digit 1.
# 28100: 12+40+4 = 56, remainder 1 → 10 → last digit 0.
REAL = [
    ("131016", "千代田区"),
    ("011002", "札幌市"),
    ("271004", "大阪市"),
    ("472018", "那覇市"),
    ("131041", "新宿区"),  # remainder 0
    ("281000", "神戸市"),  # remainder 1
    ("141003", "横浜市"),
    ("141305", "川崎市"),
    ("231002", "名古屋市"),
    ("401307", "福岡市"),
    ("012025", "函館市"),
    ("033014", "雫石町"),
]


@pytest.mark.parametrize(("code", "name"), REAL, ids=[name for _, name in REAL])
def test_check_digit_of_real_codes(code, name):
    assert check_digit(code[:5]) == code[5]
    assert normalize_code(code) == code
    assert normalize_code(code[:5]) == code  # the 5-digit form is completed
    assert is_code(code)


@pytest.mark.parametrize(
    ("typed", "code"),
    [("１３１０１６", "131016"), (" 13101 ", "131016"), ("13-1016", "131016")],
)
def test_typed_forms_are_read(typed, code):
    assert normalize_code(typed) == code


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("131017", "check digit should be 6, not 7"),
        ("999999", "first two digits are a prefecture"),
        ("481009", "first two digits are a prefecture"),
        ("001007", "first two digits are a prefecture"),
        ("1310", "6 digits"),
        ("1310166", "6 digits"),
        ("13101a", "6 digits"),
        ("", "6 digits"),
        ("١٣١٠١٦", "6 digits"),  # Arabic-Indic digits are digits to str.isdigit, not to us
    ],
)
def test_not_a_code(text, reason):
    with pytest.raises(InvalidCode, match=reason):
        normalize_code(text)
    assert not is_code(text)


def test_is_code_wants_the_exact_form():
    assert not is_code("13101")  # valid, but not yet in its 6-digit form


def test_check_digit_needs_five_ascii_digits():
    with pytest.raises(InvalidCode):
        check_digit("1310")
