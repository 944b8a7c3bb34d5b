"""Staff accounts: argon2 passwords, one-time links kept as hashes, lock-out, sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from conftest import NOW

from kizuna import municipalities, staff, staff_uploads
from kizuna.core.status import SignInStatus
from kizuna.models import StaffMember, StaffPasswordLink, StaffUpload

CHEAP = staff.Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
GOOD = "correct horse battery staple"
A, B = "131016", "011002"


@pytest.fixture
def towns(engine):
    municipalities.add(engine, code=A, name="千代田区", prefecture="東京都", now=NOW)
    municipalities.add(engine, code=B, name="札幌市", prefecture="北海道", now=NOW)
    return engine


@pytest.fixture
def member(towns) -> tuple[staff.StaffRecord, str]:
    return staff.add(towns, A, " Hoken@City.Example.JP ", now=NOW)


def rows(engine, model) -> list[dict]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.select(model.__table__)).mappings()]


def with_password(engine, member) -> staff.StaffRecord:
    return staff.set_password(engine, CHEAP, member[1], GOOD, now=NOW)


def test_the_default_hash_is_argon2id_with_rfc_9106_low_memory_parameters():
    hashed = staff.Passwords().hash(GOOD)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert staff.Passwords().verify(hashed, GOOD)


@pytest.mark.parametrize(
    ("stored", "given", "ok"),
    [(CHEAP.hash(GOOD), GOOD, True), (CHEAP.hash(GOOD), GOOD + "!", False),
     (None, GOOD, False), ("not a hash", GOOD, False)],
)  # fmt: skip
def test_verify(stored, given, ok):
    assert CHEAP.verify(stored, given) is ok


def test_adding_keeps_the_address_lower_case_and_only_the_links_hash(towns, member):
    added, token = member
    assert (added.email, added.municipality_code, added.has_password) == (
        "hoken@city.example.jp", A, False,
    )  # fmt: skip
    [link] = rows(towns, StaffPasswordLink)
    assert link["token_hash"] == staff.token_hash(token) and token not in str(link)
    assert link["expires_at"] == NOW + staff.LINK_LIFETIME


@pytest.mark.parametrize(
    ("code", "email", "problem"),
    [(A, "hoken@city.example.jp", "exists already"), ("131017", "x@city.example.jp", "check"),
     ("011011", "x@city.example.jp", "no municipality"), (A, "not an address", "valid email")],
)  # fmt: skip
def test_adding_refuses(member, towns, code, email, problem):
    with pytest.raises(ValueError, match=problem):
        staff.add(towns, code, email, now=NOW)


@pytest.mark.parametrize(
    ("password", "reason"),
    [("short", "short"), ("x" * 257, "long"), ("my hoken@city.example.jp!", "email"),
     ("MY HOKEN@CITY.EXAMPLE.JP", "email"), (GOOD, None)],
)  # fmt: skip
def test_password_rules(password, reason):
    if reason is None:
        staff.check_password(password, "hoken@city.example.jp")
        return
    with pytest.raises(staff.PasswordRefused) as refused:
        staff.check_password(password, "hoken@city.example.jp")
    assert refused.value.reason == reason


def test_a_link_sets_the_password_once(towns, member):
    done = with_password(towns, member)
    assert done.has_password and done.session_version == 2
    [row] = rows(towns, StaffMember)
    assert row["password_hash"].startswith("$argon2id$") and GOOD not in row["password_hash"]
    with pytest.raises(staff.PasswordRefused, match="link"):
        staff.set_password(towns, CHEAP, member[1], GOOD + "2", now=NOW)


@pytest.mark.parametrize(
    ("later", "live"), [(staff.LINK_LIFETIME - timedelta(seconds=1), True),
                        (staff.LINK_LIFETIME, False)],
)  # fmt: skip
def test_a_link_expires(towns, member, later, live):
    assert (staff.link_staff(towns, member[1], now=NOW + later) is not None) is live


def test_a_new_link_replaces_the_old_one(towns, member):
    newer = staff.password_link(towns, member[0].id, now=NOW)
    assert staff.link_staff(towns, member[1], now=NOW) is None
    assert staff.link_staff(towns, newer, now=NOW).id == member[0].id
    assert staff.link_staff(towns, "made-up", now=NOW) is None


def attempt(engine, password, *, at=NOW, email="HOKEN@city.example.jp", most=3):
    return staff.sign_in(engine, CHEAP, email, password, now=at, max_failed=most)


def test_signing_in(towns, member):
    assert attempt(towns, GOOD).status is SignInStatus.WRONG  # no password set yet
    with_password(towns, member)
    assert attempt(towns, GOOD).status is SignInStatus.OK
    assert attempt(towns, GOOD, email="nobody@city.example.jp").status is SignInStatus.WRONG
    assert attempt(towns, GOOD, email="not an address").status is SignInStatus.WRONG


def test_the_configured_number_of_wrong_passwords_locks_for_a_while(towns, member):
    with_password(towns, member)
    statuses = [attempt(towns, "wrong").status for _ in range(2)]
    assert statuses == [SignInStatus.WRONG, SignInStatus.WRONG]
    locking = attempt(towns, "wrong")
    assert (locking.status, locking.locked_now) == (SignInStatus.LOCKED, True)
    right = attempt(towns, GOOD, at=NOW + staff.LOCK_LIFETIME - timedelta(seconds=1))
    assert (right.status, right.locked_now) == (SignInStatus.LOCKED, False)
    assert attempt(towns, GOOD, at=NOW + staff.LOCK_LIFETIME).status is SignInStatus.OK


def test_a_right_password_resets_the_count_and_unlock_lifts_a_lock(towns, member):
    with_password(towns, member)
    for _ in range(2):
        attempt(towns, "wrong")
    assert attempt(towns, GOOD).status is SignInStatus.OK
    assert [attempt(towns, "wrong").status for _ in range(2)] == [SignInStatus.WRONG] * 2
    assert attempt(towns, "wrong").status is SignInStatus.LOCKED
    assert staff.unlock(towns, member[0].id)
    assert attempt(towns, GOOD).status is SignInStatus.OK
    assert not staff.unlock(towns, 999)


def test_signing_out_ends_every_session(towns, member):
    done = with_password(towns, member)
    assert staff.session_staff(towns, done.id, done.session_version) == done
    assert staff.session_staff(towns, done.id, 1) is None  # from before the password was set
    staff.end_sessions(towns, done.id)
    assert staff.session_staff(towns, done.id, done.session_version) is None


def test_removing_deletes_links_and_uploads(towns, member):
    staff_uploads.keep(towns, staff_id=member[0].id, code=A, content=b"x", now=NOW)
    assert [m.id for m in staff.members(towns, A)] == [member[0].id]
    assert staff.members(towns, B) == []
    assert staff.remove(towns, member[0].id)
    assert rows(towns, StaffMember) == rows(towns, StaffPasswordLink) == rows(towns, StaffUpload)
    assert rows(towns, StaffMember) == [] and not staff.remove(towns, member[0].id)
