"""The checker behind scripts/test's "names in the newest Home Assistant" step finds what it should."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from scripts.ha_names import Use, check, defined_names, folder_reader, imported_names


def _installed() -> Path:
    spec = importlib.util.find_spec("homeassistant")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))).parent


def test_every_import_is_found_in_the_home_assistant_running_the_tests() -> None:
    uses = imported_names()
    assert len(uses) > 50 and {u.module for u in uses} >= {"homeassistant.core", "homeassistant.config_entries"}
    findings, _ = check(uses, folder_reader(_installed()))
    assert [f for f in findings if f.problem.startswith("missing")] == []


def test_missing_modules_and_names_are_reported(tmp_path: Path) -> None:
    (tmp_path / "homeassistant" / "helpers").mkdir(parents=True)
    (tmp_path / "homeassistant" / "__init__.py").write_text("")
    (tmp_path / "homeassistant" / "const.py").write_text(
        "from enum import StrEnum\nKEPT = 1\n_DEPRECATED_OLD = object()\n"
        "class Platform(StrEnum):\n    SENSOR = 'sensor'\n")
    (tmp_path / "homeassistant" / "helpers" / "__init__.py").write_text("")
    (tmp_path / "homeassistant" / "helpers" / "config_validation.py").write_text("string = str\n")
    (tmp_path / "homeassistant" / "util.py").write_text("def __getattr__(name): ...\n")
    uses = [Use("homeassistant.const", "GONE", "x.py:1"),
            Use("homeassistant.components.not_an_integration", None, "x.py:2"),
            Use("homeassistant.helpers", "config_validation", "x.py:3"),  # a submodule
            Use("homeassistant.const", "Platform", "x.py:4"),
            Use("homeassistant.const", "StrEnum", "x.py:5"),  # imported there: importable from there
            Use("homeassistant.const", "OLD", "x.py:6"),
            Use("homeassistant.util", "lazy", "x.py:7")]
    findings, _ = check(uses, folder_reader(tmp_path))
    assert [(f.use.where, f.problem) for f in findings] == [
        ("x.py:1", "missing name"), ("x.py:2", "missing module"), ("x.py:6", "deprecated"),
        ("x.py:7", "only through the module's __getattr__ (a deprecated alias?)")]


def test_sources_in_newer_syntax_are_read_by_text() -> None:
    # Parenthesis-free except clauses are Python 3.14 syntax: this interpreter cannot parse them.
    source = (
        "from .helpers import (\n    first_helper,\n    second as renamed,\n)\n"
        "CONSTANT: int = 3\nOTHER = 4\n"
        "class Thing:\n    inner = 1\n"
        "async def do_it():\n    try:\n        pass\n    except ValueError, TypeError:\n        pass\n"
    )
    names, by_text = defined_names(source)
    assert by_text
    assert {"first_helper", "renamed", "CONSTANT", "OTHER", "Thing", "do_it"} <= names
    parsed, parsed_by_text = defined_names("if True:\n    A = 1\nelse:\n    B = 2\ntry:\n    C = 3\nexcept E:\n    D = 4\n")
    assert not parsed_by_text and {"A", "B", "C", "D"} <= parsed
