"""The README documents every setting and every command, and each command has help text."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from kizuna.cli import app
from kizuna.config import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(field):
    assert f"KIZUNA_{field.upper()}" in README


def commands(group, prefix=()):
    for name, command in getattr(group, "commands", {}).items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            yield from commands(command, path)
        else:
            yield path, command


ALL = list(commands(typer.main.get_command(app)))


@pytest.mark.parametrize(("path", "command"), ALL, ids=[" ".join(p) for p, _ in ALL])
def test_every_command_is_documented(path, command):
    assert command.help, f"kizuna {' '.join(path)} has no help text"
    assert "kizuna " + " ".join(path) in README
