"""LINE push bodies within LINE's limits."""

import pytest

from kizuna.line_body import push_body, text_fits, utf16_length


@pytest.mark.parametrize(
    ("text", "units"),
    [("abc", 3), ("妊娠", 2), ("👶", 2), ("𠮷野家", 4)],  # outside the BMP: two code units
)
def test_utf16_length(text, units):
    assert utf16_length(text) == units


def test_limit_is_counted_in_utf16_units():
    assert text_fits("あ" * 5000)
    assert not text_fits("あ" * 5001)
    assert not text_fits("👶" * 2501)  # 2,501 characters but 5,002 code units


def test_push_body_shape():
    assert push_body("U" + "0" * 32, ["a", "b"]) == {
        "to": "U" + "0" * 32,
        "messages": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
    }


@pytest.mark.parametrize("texts", [[], ["a"] * 6, [""], ["あ" * 5001]])
def test_push_body_refuses_what_line_refuses(texts):
    with pytest.raises(ValueError):
        push_body("U" + "0" * 32, texts)
