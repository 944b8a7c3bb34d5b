"""The core stays pure: no I/O libraries imported, no clock read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "kizuna" / "core"
ALLOWED = {
    "__future__", "calendar", "collections", "collections.abc", "dataclasses", "datetime",
    "enum", "functools", "hashlib", "html", "re", "typing",
}  # fmt: skip
CLOCK = {"now", "today", "utcnow", "time", "monotonic"}


def modules() -> list[Path]:
    return sorted(CORE.glob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_core_imports_no_io(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    outside = {name for name in imported if not name.startswith("kizuna.core")} - ALLOWED
    assert not outside, f"{path.name} imports {sorted(outside)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.name)
def test_core_reads_no_clock(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & CLOCK, f"{path.name} calls {sorted(calls & CLOCK)}"


def test_the_check_sees_the_core():
    assert {p.name for p in modules()} >= {"stage.py", "catalog.py"}
