"""Checked resident lists wait server-side for their uploader only, once, for an hour."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from conftest import NOW

from kizuna import municipalities, staff, staff_uploads
from kizuna.models import StaffUpload

A, B = "131016", "011002"
LIST = b"channel,email,due_date,consent_date\nemail,p@example.com,2027-06-06,2026-11-01\n"


@pytest.fixture
def members(engine):
    municipalities.add(engine, code=A, name="千代田区", prefecture="東京都", now=NOW)
    municipalities.add(engine, code=B, name="札幌市", prefecture="北海道", now=NOW)
    first, _ = staff.add(engine, A, "one@city.example.jp", now=NOW)
    second, _ = staff.add(engine, A, "two@city.example.jp", now=NOW)
    return engine, first.id, second.id


def test_a_list_is_taken_once_by_its_uploader(members):
    engine, first, _ = members
    upload = staff_uploads.keep(engine, staff_id=first, code=A, content=LIST, now=NOW)
    with engine.connect() as connection:
        [stored] = connection.execute(sa.select(StaffUpload.__table__)).mappings().all()
    assert stored["id_hash"] == staff.token_hash(upload) != upload
    assert staff_uploads.take(engine, upload, staff_id=first, code=A, now=NOW) == LIST
    assert staff_uploads.take(engine, upload, staff_id=first, code=A, now=NOW) is None


@pytest.mark.parametrize(
    ("who", "code", "later", "upload"),
    [("second", A, timedelta(0), None), ("first", B, timedelta(0), None),
     ("first", A, staff_uploads.UPLOAD_LIFETIME + timedelta(seconds=1), None),
     ("first", A, timedelta(0), "another-id")],
)  # fmt: skip
def test_no_one_else_and_nothing_late(members, who, code, later, upload):
    engine, first, second = members
    kept = staff_uploads.keep(engine, staff_id=first, code=A, content=LIST, now=NOW)
    staff_id = {"first": first, "second": second}[who]
    taken = staff_uploads.take(
        engine, upload or kept, staff_id=staff_id, code=code, now=NOW + later
    )
    assert taken is None


def test_lists_left_over_an_hour_are_dropped_by_the_next_upload(members):
    engine, first, _ = members
    staff_uploads.keep(engine, staff_id=first, code=A, content=LIST, now=NOW)
    later = NOW + staff_uploads.UPLOAD_LIFETIME + timedelta(minutes=1)
    staff_uploads.keep(engine, staff_id=first, code=A, content=b"new", now=later)
    with engine.connect() as connection:
        contents = connection.execute(sa.select(StaffUpload.content)).scalars().all()
    assert contents == [b"new"]


def test_the_retention_job_drops_lists_nobody_confirmed(members):
    from kizuna.retention import RetentionPolicy, run_retention

    engine, first, _ = members
    staff_uploads.keep(engine, staff_id=first, code=A, content=LIST, now=NOW)
    later = NOW + staff_uploads.UPLOAD_LIFETIME + timedelta(minutes=1)
    summary = run_retention(engine, now=later, policy=RetentionPolicy(90, 400, 7), secret="s")
    assert summary.uploads == 1
    with engine.connect() as connection:
        assert connection.execute(sa.select(StaffUpload.content)).scalars().all() == []
