"""Every configuration variable is declared once (workflow.settings.Settings), with its default
and meaning, and the README's configuration table lists exactly those."""
import re
from decimal import Decimal
from pathlib import Path

import pytest

from workflow.settings import Settings, current, local_zone

README = Path(__file__).resolve().parent.parent / "README.md"
MAKEFILE_ONLY = {"PORT"}  # read by the Makefile, not by the service


def readme_variables() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration"):]
    section = section[:section.index("\n## ", 1)]
    names = []
    for line in section.splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    return names


def test_the_readme_table_lists_every_variable_once_and_no_other():
    listed = readme_variables()
    assert len(listed) == len(set(listed)), "a variable is listed twice"
    assert set(listed) - MAKEFILE_ONLY == set(Settings.variables())


def test_every_variable_has_a_meaning():
    for name, spec in Settings.variables().items():
        assert spec.metadata["meaning"], name


def test_the_environment_is_read_and_typed_outside_the_app(monkeypatch):
    monkeypatch.setenv("FUNDWATCH_FOCUS_MIN_AMOUNT", "4500.5")
    monkeypatch.setenv("FUNDWATCH_DIGEST_EVERY_DAY", "yes")
    monkeypatch.setenv("FUNDWATCH_CHECK_BATCH", "")  # empty: the default
    settings = current()
    assert settings.focus_min_amount == Decimal("4500.50") and settings.digest_every_day is True
    assert settings.check_batch == Settings.check_batch == 100


def test_a_bad_value_names_its_variable(monkeypatch):
    monkeypatch.setenv("FUNDWATCH_REMINDER_HOUR", "nine")
    with pytest.raises(ValueError, match="FUNDWATCH_REMINDER_HOUR"):
        current()


def test_the_app_config_wins_and_the_zone_is_the_configured_one(app):
    app.config["FUNDWATCH_TIMEZONE"] = "Asia/Urumqi"
    assert str(local_zone()) == "Asia/Urumqi"
    app.config["FUNDWATCH_TIMEZONE"] = None
    assert str(local_zone()) == "Asia/Shanghai"
