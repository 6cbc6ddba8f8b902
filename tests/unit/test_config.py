"""The option table: every entry is declared to pytest and resolved into ``Settings``."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from dualdb.config import OPTIONS, Settings, resolve, setting
from dualdb.errors import ConfigError


def _getters(options=None, ini=None):
    options, ini = options or {}, ini or {}
    return (lambda name: options.get(name)), (lambda name: ini.get(name, ""))


def test_every_option_fills_a_settings_field_once():
    names = [opt.setting for opt in OPTIONS]
    assert len(names) == len(set(names))
    assert set(names) <= {f.name for f in fields(Settings)}


def test_defaults_come_from_settings():
    option, ini = _getters()
    settings = resolve(option, ini, env={})
    assert settings == Settings(run_id=settings.run_id)


def test_precedence_command_line_then_environment_then_ini():
    option, ini = _getters({"dualdb_pg_url": "postgresql://cli/db"}, {})
    assert resolve(option, ini, env={"DUALDB_PG_URL": "postgresql://env/db"}).pg_url == "postgresql://cli/db"
    option, ini = _getters({}, {"dualdb_pg_binaries": "/ini/bin"})
    assert resolve(option, ini, env={"DUALDB_PG_BINARIES": "/env/bin"}).pg_binaries == "/env/bin"
    assert resolve(option, ini, env={}).pg_binaries == "/ini/bin"


def test_values_are_parsed_and_checked_with_the_key_in_the_message():
    option, ini = _getters({"dualdb_report_dir": "out"}, {
        "dualdb_max_rows": "7", "dualdb_backend": "pg", "dualdb_metadata": ["app.models:Base other:meta"],
        "dualdb_redirect": "true",
    })
    settings = resolve(option, ini, env={})
    assert (settings.max_rows, settings.default_backend, settings.report_dir) == (7, "postgresql", Path("out"))
    assert settings.metadata_specs == ("app.models:Base", "other:meta")
    assert settings.redirect and settings.dual  # redirect implies a dual run
    option, ini = _getters({}, {"dualdb_lock_timeout_ms": "-1"})
    with pytest.raises(ConfigError, match="dualdb_lock_timeout_ms must not be negative"):
        resolve(option, ini, env={})


def test_one_setting_before_the_settings_exist():
    option, ini = _getters({}, {"dualdb_pg_timezone": " Europe/Paris "})
    assert setting("pg_timezone", option, ini, env={}) == "Europe/Paris"
    assert setting("pg_collation", option, ini, env={}) == "auto"


def test_pytest_declares_every_entry(pytester: pytest.Pytester):
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    for opt in OPTIONS:
        assert (opt.flag or opt.ini) in text
