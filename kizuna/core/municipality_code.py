"""The 6-digit local government code (全国地方公共団体コード, JIS X 0402) and its check digit."""

from __future__ import annotations

import re

WEIGHTS = (6, 5, 4, 3, 2)  # for the five digits, left to right (modulus 11)
PREFECTURES = range(1, 48)  # JIS X 0401: 01 Hokkaido … 47 Okinawa
# Full-width digits (as typed on a Japanese keyboard) are read as their ASCII forms.
_FULL_WIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_DIGITS = re.compile(r"\d{5,6}", re.ASCII)


class InvalidCode(ValueError):
    """Not a local government code; the text says why."""


def check_digit(five: str) -> str:
    """The check digit of a 5-digit code: 11 − (weighted sum mod 11), last digit only, so a
    remainder of 0 gives 1 and a remainder of 1 gives 0."""
    if len(five) != 5 or not five.isascii() or not five.isdigit():
        raise InvalidCode(f"{five!r} is not 5 digits")
    remainder = sum(int(digit) * weight for digit, weight in zip(five, WEIGHTS, strict=True)) % 11
    return str((11 - remainder) % 10)


def normalize_code(text: str) -> str:
    """The 6-digit code for `text`: 6 digits with a correct check digit, or the 5-digit form
    (completed here). Spaces, hyphens and full-width digits are allowed."""
    digits = text.translate(_FULL_WIDTH).replace("-", "").replace(" ", "").strip()
    if not _DIGITS.fullmatch(digits):
        raise InvalidCode(f"{text!r}: a local government code has 6 digits (or 5 without the last)")
    if int(digits[:2]) not in PREFECTURES:
        raise InvalidCode(f"{text!r}: the first two digits are a prefecture, 01 to 47")
    expected = check_digit(digits[:5])
    if len(digits) == 5:
        return digits + expected
    if digits[5] != expected:
        raise InvalidCode(f"{text!r}: the check digit should be {expected}, not {digits[5]}")
    return digits


def is_code(text: str) -> bool:
    """True for a 6-digit code with a correct check digit (exactly, nothing to normalise)."""
    try:
        return normalize_code(text) == text
    except InvalidCode:
        return False
