"""Approvals bound to the body's hash: recorded in place, broken by any edit, listed by role."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import write_message

from kizuna.content import check_reviews, load_catalog, needs_rereview
from kizuna.core.catalog import AUDIENCES_BY_ROLE, Role, content_hash
from kizuna.core.stage import stage_of_child
from kizuna.editing import validate
from kizuna.front_matter import split_file
from kizuna.review import (
    Approval,
    ReviewerRole,
    ReviewError,
    ReviewState,
    approve,
    state_of,
    waiting,
)

APPROVAL = Approval("山田 花子", ReviewerRole.OBSTETRICIAN, date(2026, 11, 20), note="確認済み")
DUE = date(2027, 5, 1)
ON_13W0D = DUE - timedelta(days=280 - 91)  # 13w0d


def choose(root, variant="ja"):
    stage = stage_of_child(today=ON_13W0D, due_date=DUE)
    catalog = load_catalog(root)
    return catalog.choose(
        stage, audiences=AUDIENCES_BY_ROLE[Role.PARENT], variant=variant, allow_unreviewed=False
    )


def test_approve_then_edit_the_body(messages_dir):
    path = messages_dir / "pregnancy" / "13w0d.ja.md"
    assert choose(messages_dir) is None  # unreviewed: never planned

    written = approve(messages_dir, "pregnancy-13w0d", APPROVAL)
    assert sorted(p.name for p in written) == ["13w0d.ja-easy.md", "13w0d.ja.md"]
    choice = choose(messages_dir)
    assert choice is not None and choice.message.id == "pregnancy-13w0d"
    assert validate([messages_dir]).problems == []

    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("です。", "ですね。"), encoding="utf-8")
    assert choose(messages_dir) is None
    problems = [str(p) for p in validate([messages_dir]).problems]
    assert problems == [
        "pregnancy/13w0d.ja.md:20: needs re-review: the body changed after it was approved"
    ]
    assert choose(messages_dir, variant="ja-easy") is not None  # its partner is untouched


def test_approval_rewrites_only_the_reviews_list(messages_dir):
    path = messages_dir / "pregnancy" / "13w0d.ja.md"
    before = path.read_bytes()
    approve(messages_dir, "pregnancy-13w0d", APPROVAL, variants=["ja"])
    after = path.read_bytes()
    old, new = split_file(before.decode()), split_file(after.decode())
    assert new.body.encode() == old.body.encode()
    removed = [line for line in old.front if line not in new.front]
    assert removed == ["reviews: []\n"]
    added = [line for line in new.front if line not in old.front]
    assert added == [
        "reviews:\n",
        '  - reviewer: "山田 花子"\n',
        "    role: obstetrician\n",
        "    date: 2026-11-20\n",
        f"    content_hash: {content_hash(old.body.strip(chr(10)) + chr(10))}\n",
        '    note: "確認済み"\n',
    ]
    assert (messages_dir / "pregnancy" / "13w0d.ja-easy.md").read_text().count("reviewer") == 0


def test_approving_twice_records_once_and_a_second_reviewer_adds(messages_dir):
    assert approve(messages_dir, "pregnancy-13w0d", APPROVAL, variants=["ja"])
    assert approve(messages_dir, "pregnancy-13w0d", APPROVAL, variants=["ja"]) == []
    other = Approval("佐藤", ReviewerRole.MIDWIFE, date(2026, 11, 21))
    approve(messages_dir, "pregnancy-13w0d", other, variants=["ja"])
    message = load_catalog(messages_dir).variants_of("pregnancy-13w0d")["ja"]
    assert [r.reviewer for r in message.reviews] == ["山田 花子", "佐藤"]


@pytest.mark.parametrize(
    ("message_id", "variants", "error"),
    [
        ("pregnancy-99w0d", (), "no message pregnancy-99w0d"),
        ("pregnancy-13w0d", ("en",), "has no variant en"),
    ],
)
def test_approve_refuses_what_is_not_there(messages_dir, message_id, variants, error):
    with pytest.raises(ReviewError, match=error):
        approve(messages_dir, message_id, APPROVAL, variants=variants)


def test_approve_refuses_a_message_with_problems(tmp_path):
    write_message(tmp_path, body="{{ nope }}")
    with pytest.raises(ReviewError, match="fix these first: .*template variable"):
        approve(tmp_path, "pregnancy-12w0d", APPROVAL)


def test_never_reviewed_is_not_needs_rereview(messages_dir):
    catalog = load_catalog(messages_dir)
    unreviewed = catalog.variants_of("pregnancy-13w0d")["ja"]
    reviewed = catalog.variants_of("pregnancy-12w0d")["ja"]
    assert not needs_rereview(unreviewed) and not needs_rereview(reviewed)
    assert check_reviews(catalog.messages) == []
    assert state_of(unreviewed) is ReviewState.UNREVIEWED
    assert state_of(reviewed) is ReviewState.REVIEWED


def test_waiting_lists_roles(tmp_path):
    write_message(tmp_path, track="pregnancy", at="13w0d")
    write_message(tmp_path, track="child", at="d7", reviewed=True)
    write_message(tmp_path, track="child", at="d14", category="procedure")
    path = tmp_path / "child" / "d7.ja.md"
    path.write_text(path.read_text().replace("です。", "です！"))
    messages = load_catalog(tmp_path).messages
    found = {(w.message.id, w.message.variant): w for w in waiting(messages)}
    assert found[("pregnancy-13w0d", "ja")].roles == ("obstetrician", "midwife")
    assert found[("child-d14", "ja")].roles == ("editor",)
    stale = found[("child-d7", "ja")]
    assert stale.state is ReviewState.NEEDS_REREVIEW
    assert stale.roles == ("midwife",)
    assert stale.previous == "Test Reviewer (midwife, 2026-11-01)"
    assert ("child-d7", "ja-easy") not in found
