"""`kizuna messages …` through typer's runner, on a temporary messages folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import message_text, write_message
from typer.testing import CliRunner

from kizuna.cli import app
from kizuna.models import Municipality

runner = CliRunner()
NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def env(settings):
    return {
        "KIZUNA_DATABASE_URL": settings.database_url,
        "KIZUNA_MESSAGES_DIR": str(settings.messages_dir),
        "KIZUNA_TIMEZONE": "Asia/Tokyo",
        "COLUMNS": "200",
    }


def invoke(env, *args: str):
    return runner.invoke(app, ["messages", *args], env=env)


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_a_clean_folder(env):
    result = invoke(env, "validate")
    assert result.exit_code == 0, result.output
    assert "16 message files checked, 0 problems, 2 unreviewed" in result.output


def stale_review(root: Path) -> None:
    path = write_message(root, reviewed=True)[0]
    path.write_text(path.read_text().replace("です。", "ですよ。"))


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda r: write(r, "pregnancy/12w0d.ja.md", message_text(category="news")),
         "pregnancy/12w0d.ja.md:7: category"),
        (lambda r: write(r, "pregnancy/12w0d.ja.md", message_text(body="{% if x %}")),
         "pregnancy/12w0d.ja.md:15: template syntax"),
        (lambda r: write(r, "pregnancy/12w0d.ja.md", message_text(body="{{ child_name }}")),
         "pregnancy/12w0d.ja.md:15: template variable: 'child_name' is undefined"),
        (lambda r: write(r, "pregnancy/12w0d.ja.md", message_text(body="{% if channel == 'line'"
                         " %}{{ 'あ' * 5001 }}{% else %}メール{% endif %}")),
         "pregnancy/12w0d.ja.md:15: text is longer than LINE allows"),
        (lambda r: write_message(r, audience="partner"),
         "pregnancy/12w0d-partner.ja-easy.md:1: same day as pregnancy-12w0d (12w0d)"),
        (lambda r: write(r, "pregnancy/12w0d.ja.md", message_text(sources=[])),
         "pregnancy/12w0d.ja.md:10: sources: List should have at least 1 item"),
        (lambda r: write(r, "pregnancy/13w0d.ja.md",
                         message_text(at="13w0d", id="pregnancy-13w0d")),
         "pregnancy/13w0d.ja.md:1: pregnancy-13w0d has no ja-easy variant"),
        (lambda r: write(r, "pregnancy/12w0d.ja-easy.md", message_text(variant="ja-easy",
                         age_basis="corrected")),
         "pregnancy/12w0d.ja-easy.md:1: variants of pregnancy-12w0d differ in age_basis"),
        (lambda r: write(r, "pregnancy/x.ja.md", message_text(at="14w0d", id="pregnancy-14w0d")),
         "pregnancy/x.ja.md:1: file must be at messages/pregnancy/14w0d.ja.md"),
        (lambda r: write(r, "pregnancy/old/12w0d.ja.md", message_text()),
         "pregnancy/old/12w0d.ja.md:1: duplicate of pregnancy/12w0d.ja.md"),
        (stale_review,
         "pregnancy/12w0d.ja.md:19: needs re-review: the body changed after it was approved"),
    ],
)  # fmt: skip
def test_validate_reports_every_kind_of_error(env, tmp_path, make, expected):
    root = tmp_path / "library"
    write_message(root)  # a valid message in both variants to start from
    make(root)
    result = invoke(env, "validate", str(root))
    assert result.exit_code == 1, result.output
    assert f"error {expected}" in result.output


def test_validate_a_single_file(env, messages_dir):
    result = invoke(env, "validate", str(messages_dir / "child" / "d7.ja.md"))
    assert result.exit_code == 0, result.output
    assert "1 message files checked" in result.output
    assert invoke(env, "validate", str(messages_dir / "nowhere")).exit_code == 1


def test_new_scaffolds_a_file_that_asks_for_sources(env, messages_dir):
    result = invoke(env, "new", "--track", "child", "--at", "d100", "--variant", "ja")
    assert result.exit_code == 0, result.output
    path = messages_dir / "child" / "d100.ja.md"
    assert f"wrote {path}" in result.output.replace("\n", "")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("---\nid: child-d100\ntrack: child\nat: d100\nvariant: ja\n")
    checked = invoke(env, "validate")
    assert "child/d100.ja.md:10: sources: List should have at least 1" in checked.output
    assert checked.exit_code == 1


def test_new_partner_variant_borrows_sources(env, messages_dir):
    result = invoke(env, "new", "--track", "child", "--at", "d7", "--variant", "en")
    assert result.exit_code == 0, result.output
    text = (messages_dir / "child" / "d7.en.md").read_text(encoding="utf-8")
    assert 'sources:\n  - title: "出典"\n    url: https://www.cfa.go.jp/\n' in text
    assert "{{ stage_label }}" in text


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--track", "pregnancy", "--at", "12w0d"], "pregnancy-12w0d (ja) already exists"),
        (["--track", "pregnancy", "--at", "12w0d", "--audience", "partner"],
         "pregnancy-12w0d is already due on 12w0d"),
        (["--track", "child", "--at", "18m"], "must write 12 months or more with y"),
        (["--track", "child", "--at", "d9", "--category", "news"], "category must be one of"),
    ],
)  # fmt: skip
def test_new_refuses_a_clash(env, args, error):
    result = invoke(env, "new", *args)
    assert result.exit_code == 2
    assert error in result.output.replace("\n", "")


def test_preview_line(env):
    result = invoke(env, "preview", "--at", "d7", "--nickname", "さくら")
    assert result.exit_code == 0, result.output
    assert "child-d7 (ja, child/d7.ja.md) 生後7日" in result.output
    assert "\nさくらさん、生後7日。赤(あか)ちゃん\n" in result.output
    assert "unreviewed" not in result.output


def test_preview_email_writes_the_html(env, tmp_path):
    target = tmp_path / "mail.html"
    result = invoke(
        env, "preview", "--birth-date", "2026-11-15", "--on", "2026-11-22",
        "--channel", "email", "--variant", "ja-easy", "--html", str(target),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Subject: 見出し" in result.output
    assert f"HTML: {target}" in result.output.replace("\n", "")
    assert "<ruby>赤<rp>(</rp><rt>あか</rt><rp>)</rp></ruby>ちゃん" in target.read_text()


def test_preview_with_a_municipality(env, engine):
    with engine.begin() as connection:
        connection.execute(
            sa.insert(Municipality.__table__).values(code="131016", name="千代田区", created_at=NOW)
        )
    path = Path(env["KIZUNA_MESSAGES_DIR"]) / "child" / "d7.ja.md"
    path.write_text(
        path.read_text().replace("赤《あか》ちゃん", "赤《あか》ちゃん{{ municipality_name }}")
    )
    result = invoke(env, "preview", "--at", "d7", "--municipality", "131016")
    assert result.exit_code == 0, result.output
    assert "赤(あか)ちゃん千代田区" in result.output
    assert invoke(env, "preview", "--at", "d7", "--municipality", "999999").exit_code == 2


def test_preview_of_nothing_says_why(env):
    result = invoke(env, "preview", "--at", "30w0d")
    assert result.exit_code == 2
    assert "no pregnancy message at 30w0d" in result.output


def test_coverage_table_and_png(env, tmp_path):
    png = tmp_path / "timeline.png"
    result = invoke(env, "coverage", "--png", str(png))
    assert result.exit_code == 0, result.output
    assert "pregnancy │ ja-easy │ 4" in result.output
    assert "12w3d→13w0d (4 days)" not in result.output  # within the weekly cadence
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 10_000
    only = invoke(env, "coverage", "--track", "loss", "--png", str(png))
    assert "pregnancy" not in only.output and "loss" in only.output


def test_lint_easy(env, messages_dir):
    clean = invoke(env, "lint-easy")
    assert clean.exit_code == 0, clean.output
    assert "8 ja-easy files: 0 errors" in clean.output
    path = messages_dir / "child" / "d70.ja-easy.md"
    path.write_text(path.read_text().replace("です。", "です。あしたは行かなければならない。"))
    failing = invoke(env, "lint-easy", str(path))
    assert failing.exit_code == 1
    assert "child/d70.ja-easy.md:19: error [double-negative]" in failing.output
    assert "error [desu-masu]" in failing.output
    assert "1 ja-easy files: 2 errors" in failing.output


def test_lint_easy_strict_fails_on_warnings(env, messages_dir):
    path = messages_dir / "child" / "d70.ja-easy.md"
    path.write_text(path.read_text().replace("です。", "です。" + "あ" * 60 + "です。"))
    assert invoke(env, "lint-easy", str(path)).exit_code == 0
    assert invoke(env, "lint-easy", "--strict", str(path)).exit_code == 1


def test_furigana_text_and_files(env, messages_dir):
    result = invoke(env, "furigana", "--text", "出生届を出します。", "--show", "line")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "出生(しゅっしょう)届(とどけ)を出(だ)します。"
    (messages_dir / "furigana-exceptions.yml").write_text("出生届: しゅっしょうとどけ\n")
    result = invoke(env, "furigana", "--text", "出生届", "--show", "html")
    assert (
        result.output.strip()
        == "<ruby>出生届<rp>(</rp><rt>しゅっしょうとどけ</rt><rp>)</rp></ruby>"
    )
    path = messages_dir / "child" / "d70.ja-easy.md"
    path.write_text(path.read_text().replace("です。", "です。病院"))
    assert "1 files would change" in invoke(env, "furigana", str(messages_dir)).output
    assert "病院" in path.read_text() and "｜病院" not in path.read_text()
    written = invoke(env, "furigana", "--write", str(path))
    assert written.exit_code == 0, written.output
    assert "です。｜病院《びょういん》\n" in path.read_text()
    assert invoke(env, "furigana").exit_code == 2


def test_a_bad_setting_is_named(env):
    result = invoke({**env, "KIZUNA_EASY_READABILITY_MIN": "easy"}, "lint-easy")
    assert result.exit_code == 2
    assert "KIZUNA_EASY_READABILITY_MIN" in result.output
