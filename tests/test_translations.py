"""Every translation string renders in Home Assistant's front end, and every placeholder is supplied.

The front end formats these strings as ICU messages: a `<` opens a tag (a path like
`<config>/x` showed "Translation error: UNCLOSED_TAG"), braces are placeholders, and an
apostrophe before a brace quotes it away. The code is read (not run) to find which
placeholders each form, error and repair issue supplies.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import json
from pathlib import Path
import re
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "eaio"
LANGUAGES = sorted((INTEGRATION / "translations").glob("*.json"))
EN: dict[str, Any] = json.loads((INTEGRATION / "translations" / "en.json").read_text(encoding="utf-8"))
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _strings(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}" if path else key)
    elif isinstance(node, str):
        yield path, node


def message_problems(text: str) -> list[str]:
    """What the front end's message formatting would trip on in one string."""
    problems = []
    if "<" in text:
        problems.append("'<' opens a tag")
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0 or depth > 1:
            problems.append("braces unbalanced or nested")
            break
    else:
        if depth:
            problems.append("a brace is not closed")
    problems += [
        f"placeholder {{{name}}} is not a simple name"
        for name in placeholders(text)
        if not IDENTIFIER.fullmatch(name)
    ]
    if re.search(r"'[{}]", text):
        problems.append("an apostrophe before a brace quotes the placeholder away")
    return problems


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def test_the_checker_catches_what_broke_the_form() -> None:
    assert message_problems("Point maps in `<config>/eaio/profiles/*.yaml`{refused}") == ["'<' opens a tag"]
    assert message_problems("{a} and {b") == ["a brace is not closed"]
    assert message_problems("a} and {b") == ["braces unbalanced or nested"]
    assert message_problems("{count, plural, one {x}}") != []
    assert message_problems("the device'{name}") == [
        "an apostrophe before a brace quotes the placeholder away"
    ]
    assert message_problems("The device's {name} is away.") == []


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda p: p.name)
def test_every_string_renders(language: Path) -> None:
    strings = json.loads(language.read_text(encoding="utf-8"))
    bad = {path: problems for path, text in _strings(strings) if (problems := message_problems(text))}
    assert bad == {}


@pytest.mark.parametrize("language", [p for p in LANGUAGES if p.name != "en.json"], ids=lambda p: p.name)
def test_other_languages_use_the_same_placeholders(language: Path) -> None:
    english = dict(_strings(EN))
    other = dict(_strings(json.loads(language.read_text(encoding="utf-8"))))
    differ = {
        path: (sorted(placeholders(text)), sorted(placeholders(english[path])))
        for path, text in other.items()
        if path in english and placeholders(text) != placeholders(english[path])
    }
    assert differ == {}


# What the code supplies, read from its source --------------------------------------------------


def _literal_keys(node: ast.expr | None) -> set[str] | None:
    """The keys of a dict literal; None when the keys are not all written out."""
    if node is None:
        return set()
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        return {str(k.value) for k in node.keys if isinstance(k, ast.Constant)}
    return None


def _calls(path: Path) -> Iterator[tuple[str, dict[str, ast.expr], int]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            yield name, {k.arg: k.value for k in node.keywords if k.arg}, node.lineno


def _const(node: ast.expr | None) -> str | None:
    return str(node.value) if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _consts(node: ast.expr | None) -> list[str]:
    """The strings an expression can be when it is written out (a constant, or `a if c else b`)."""
    if isinstance(node, ast.IfExp):
        return _consts(node.body) + _consts(node.orelse)
    return [text] if (text := _const(node)) is not None else []


def _lookup(*keys: str) -> Any:
    node: Any = EN
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _uses() -> Iterator[tuple[str, list[str], set[str] | None]]:
    """(where, the translation's texts, the placeholders supplied) for each use found in the code."""
    for module in sorted(INTEGRATION.glob("*.py")):
        for name, kwargs, line in _calls(module):
            where = f"{module.name}:{line}"
            if "translation_domain" not in kwargs and name != "async_create_issue":
                continue
            section = "issues" if name == "async_create_issue" else "exceptions"
            for key in _consts(kwargs.get("translation_key")):
                entry = _lookup(section, key)
                texts = list(entry.values()) if isinstance(entry, dict) else []
                yield f"{where} {section}.{key}", texts, _literal_keys(kwargs.get("translation_placeholders"))
    for flow in (INTEGRATION / "config_flow.py", *sorted(INTEGRATION.glob("*_flow.py"))):
        yield from _flow_uses(flow)


def _flow_section(cls: ast.ClassDef) -> list[str]:
    bases = {getattr(b, "id", "") for b in cls.bases}
    if "OptionsFlow" in bases:
        return ["options"]
    if "ConfigSubentryFlow" in bases:
        return [f"config_subentries.{kind}" for kind in EN.get("config_subentries", {})]
    return ["config"]


def _flow_uses(flow: Path) -> Iterator[tuple[str, list[str], set[str] | None]]:
    tree = ast.parse(flow.read_text(encoding="utf-8"))
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        sections = _flow_section(cls)
        for node in ast.walk(cls):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            kwargs = {k.arg: k.value for k in node.keywords if k.arg}
            where = f"{flow.name}:{node.lineno}"
            if node.func.attr in ("async_show_form", "async_show_menu"):
                step = _const(kwargs.get("step_id")) or ""
                found = [e for sec in sections if (e := _lookup(*sec.split("."), "step", step))]
                texts = [v for entry in found for k, v in entry.items() if k in ("title", "description")]
                supplied = _literal_keys(kwargs.get("description_placeholders"))
                yield f"{where} step {step}", texts if found else [], supplied
            elif node.func.attr == "async_abort":
                for reason in _consts(kwargs.get("reason")):
                    found = [t for sec in sections if (t := _lookup(*sec.split("."), "abort", reason))]
                    yield f"{where} abort {reason}", found, set()


def test_every_translation_the_code_uses_exists_and_gets_its_placeholders() -> None:
    uses = list(_uses())
    assert len(uses) > 40  # the reading found the code's uses
    missing = [where for where, texts, _ in uses if not texts]
    assert missing == []
    unsupplied = {
        where: sorted(needed - supplied)
        for where, texts, supplied in uses
        if supplied is not None and (needed := set().union(*(placeholders(t) for t in texts))) - supplied
    }
    assert unsupplied == {}


def test_every_error_the_config_flow_sets_is_translated() -> None:
    source = (INTEGRATION / "config_flow.py").read_text(encoding="utf-8")
    options_at = source.index("class EaioOptionsFlow")
    for match in re.finditer(r'errors\[[^\]]+\] = "([a-z_]+)"|return "([a-z_]+)"', source):
        key = match.group(1) or match.group(2)
        section = "options" if match.start() > options_at else "config"
        assert _lookup(section, "error", key), f"{section}.error.{key} is missing"


def test_every_translated_entity_has_an_icon() -> None:
    icons = json.loads((INTEGRATION / "icons.json").read_text(encoding="utf-8"))
    named = {(platform, key) for platform, keys in EN.get("entity", {}).items() for key in keys}
    with_icon = {(platform, key) for platform, keys in icons.get("entity", {}).items() for key in keys}
    assert named == with_icon
    every_icon = [icon for _, icon in _strings(icons)]
    assert every_icon and all(re.fullmatch(r"mdi:[a-z0-9-]+", icon) for icon in every_icon)


def test_every_form_field_is_described() -> None:
    """A field with a label and no description leaves the person guessing what to type."""
    undescribed = {}
    sections = [("config", EN["config"]), ("options", EN["options"])]
    sections += [(f"config_subentries.{k}", v) for k, v in EN.get("config_subentries", {}).items()]
    for name, section in sections:
        for step_id, step in section.get("step", {}).items():
            if missing := set(step.get("data", {})) - set(step.get("data_description", {})):
                undescribed[f"{name}.step.{step_id}"] = sorted(missing)
    assert undescribed == {}
