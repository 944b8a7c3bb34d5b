"""A real message rendered with and without one value of a municipality's local information."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import write_message

from kizuna.content import load_catalog
from kizuna.local_preview import message_using, preview
from kizuna.rendering import Renderer

BODY = (
    "{{ stage_label }}。{% if local.health_center %}{{ local.health_center }}に{% else %}"
    "お住まいの保健センターに{% endif %}ご相談ください。"
)


@pytest.fixture
def catalog(messages_dir):
    write_message(messages_dir, track="child", at="d30", body=BODY)
    write_message(messages_dir, track="child", at="d60", body="{{ local.health_center }}です。")
    return load_catalog(messages_dir)


def test_the_earliest_message_using_a_key_is_chosen(catalog):
    assert message_using(catalog, "health_center").id == "child-d30"
    assert message_using(catalog, "checkup_3y") is None


@pytest.mark.parametrize(
    ("stored", "with_value"),
    [({"health_center": "千代田保健所"}, "生後30日。千代田保健所にご相談ください。"),
     ({}, "生後30日。お住まいの保健センターにご相談ください。")],
)  # fmt: skip
def test_with_and_without_the_value(catalog, stored, with_value):
    shown = preview(catalog, Renderer(), "health_center", stored, municipality_name="千代田区",
                    today=date(2026, 11, 22))  # fmt: skip
    assert shown.message_id == "child-d30"
    assert shown.with_value == with_value
    assert shown.without_value == "生後30日。お住まいの保健センターにご相談ください。"


def test_nothing_to_preview_for_an_unused_key(catalog):
    assert preview(catalog, Renderer(), "checkup_3y", {}, municipality_name="",
                   today=date(2026, 11, 22)) is None  # fmt: skip
