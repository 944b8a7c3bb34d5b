"""Municipalities: adding them, API tokens (hashed, revocable), local information."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import municipalities
from kizuna.core.local_info import LOCAL_INFO_KEYS
from kizuna.models import MunicipalityToken


@pytest.fixture
def chiyoda(engine):
    municipalities.add(engine, code="13101", name="千代田区", prefecture="東京都", now=NOW)
    return engine


def test_add_completes_the_code_and_defaults_the_sender_label(chiyoda):
    found = municipalities.get(chiyoda, "131016")
    assert (found.code, found.name, found.sender_label) == ("131016", "千代田区", "千代田区より")
    assert municipalities.get(chiyoda, "13101") == found
    assert [m.code for m in municipalities.all_municipalities(chiyoda)] == ["131016"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"code": "131017", "name": "x"}, "check digit"),
        ({"code": "131016", "name": "again"}, "exists already"),
        ({"code": "011002", "name": " "}, "needs its name"),
        ({"code": "011002", "name": "札幌市", "timezone": "Mars/Olympus"}, "time zone"),
        ({"code": "011002", "name": "札幌市", "delivery_hour": 24}, "0 to 23"),
    ],
)
def test_add_refuses(chiyoda, fields, reason):
    with pytest.raises(municipalities.MunicipalityError, match=reason):
        municipalities.add(chiyoda, prefecture="", now=NOW, **fields)


def test_a_token_is_shown_once_kept_hashed_and_revocable(chiyoda):
    token_id, token = municipalities.create_token(chiyoda, "131016", label="住基", now=NOW)
    assert token.startswith("kzm_") and len(token) > 40
    with chiyoda.connect() as connection:
        stored = connection.execute(sa.select(MunicipalityToken.__table__)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(tuple(stored))
    assert municipalities.token_municipality(chiyoda, token) == "131016"
    assert municipalities.token_municipality(chiyoda, token + "x") is None
    assert municipalities.token_municipality(chiyoda, "Bearer " + token) is None
    assert municipalities.revoke_token(chiyoda, token_id, now=NOW)
    assert not municipalities.revoke_token(chiyoda, token_id, now=NOW)  # once
    assert municipalities.token_municipality(chiyoda, token) is None
    [listed] = municipalities.tokens(chiyoda, "131016")
    assert (listed.label, listed.revoked_at) == ("住基", NOW)


def test_local_info_set_get_unset(chiyoda):
    stored = municipalities.update_local_info(
        chiyoda, "131016", set_values={"checkup_4m": " 保健所で毎月第2火曜 ", "vaccination": "x"},
        now=NOW,
    )  # fmt: skip
    assert stored == {"vaccination": "x", "checkup_4m": "保健所で毎月第2火曜"}
    assert list(stored) == ["vaccination", "checkup_4m"]  # the documented key order
    rendered = municipalities.local_info_for(chiyoda, "131016")
    assert list(rendered) == list(LOCAL_INFO_KEYS)
    assert rendered["checkup_4m"] == "保健所で毎月第2火曜" and rendered["checkup_3y"] == ""
    municipalities.update_local_info(
        chiyoda, "131016", set_values={"checkup_4m": "変更"}, unset=["vaccination"], now=NOW
    )
    assert municipalities.stored_local_info(chiyoda, "131016") == {"checkup_4m": "変更"}
    municipalities.update_local_info(chiyoda, "131016", set_values={"checkup_4m": ""}, now=NOW)
    assert municipalities.stored_local_info(chiyoda, "131016") == {}


def test_replace_keeps_only_what_is_given(chiyoda):
    municipalities.update_local_info(chiyoda, "131016", set_values={"vaccination": "a"}, now=NOW)
    municipalities.update_local_info(
        chiyoda, "131016", set_values={"checkup_3y": "b"}, replace=True, now=NOW
    )
    assert municipalities.stored_local_info(chiyoda, "131016") == {"checkup_3y": "b"}


@pytest.mark.parametrize(
    ("values", "unset", "reason"),
    [
        ({"checkup_5m": "x"}, [], "unknown local info key.*checkup_5m.*known: prenatal_checkup"),
        ({}, ["nope"], "unknown local info key.*nope"),
        ({"vaccination": "x" * 1001}, [], "longer than 1000"),
    ],
)
def test_unknown_keys_are_refused_and_nothing_changes(chiyoda, values, unset, reason):
    municipalities.update_local_info(chiyoda, "131016", set_values={"vaccination": "a"}, now=NOW)
    with pytest.raises(municipalities.MunicipalityError, match=reason):
        municipalities.update_local_info(
            chiyoda, "131016", set_values={"checkup_3y": "b", **values}, unset=unset, now=NOW
        )
    assert municipalities.stored_local_info(chiyoda, "131016") == {"vaccination": "a"}


def test_local_info_of_several_municipalities_and_of_none(chiyoda):
    municipalities.add(chiyoda, code="011002", name="札幌市", prefecture="北海道", now=NOW)
    municipalities.update_local_info(chiyoda, "011002", set_values={"checkup_3y": "s"}, now=NOW)
    found = municipalities.local_info_by_code(chiyoda, ["131016", "011002", "131016"])
    assert set(found) == {"131016", "011002"}
    assert found["011002"]["checkup_3y"] == "s" and found["131016"]["checkup_3y"] == ""
    assert set(municipalities.local_info_for(chiyoda, None).values()) == {""}


def test_stored_local_info_renders_and_falls_back(chiyoda):
    """What `local_info_for` returns drops into a message's `local` (rendering at dispatch is
    wired elsewhere): a value given reads as the municipality's, a missing one falls back."""
    from test_rendering import LOCAL_BODY, context, make

    from kizuna.rendering import Renderer

    message, renderer = make(LOCAL_BODY), Renderer()
    without = municipalities.local_info_for(chiyoda, "131016")
    assert renderer.render(message, context(municipality_name="千代田区", local=without)).text == (
        "お住まいの市区町村の案内を確認しましょう。"
    )
    municipalities.update_local_info(
        chiyoda, "131016", set_values={"checkup_4m": "保健所で毎月第2火曜"}, now=NOW
    )
    given = municipalities.local_info_for(chiyoda, "131016")
    assert renderer.render(message, context(municipality_name="千代田区", local=given)).text == (
        "千代田区より：保健所で毎月第2火曜"
    )


def test_reads_join_a_callers_transaction(chiyoda):
    municipalities.add(chiyoda, code="011002", name="札幌市", prefecture="北海道",
                       sender_label="札幌市保健所より", now=NOW)  # fmt: skip
    with chiyoda.begin() as connection:
        municipalities.update_local_info(chiyoda, "131016", set_values={"vaccination": "v"},
                                         now=NOW)  # fmt: skip
        assert municipalities.local_info_for(connection, "131016")["vaccination"] == "v"
        assert municipalities.local_info_by_code(connection, ["131016"])["131016"]["vaccination"]
        labels = municipalities.sender_labels(connection, ["131016", "011002", "472018"])
    assert labels == {"131016": "千代田区より", "011002": "札幌市保健所より"}
