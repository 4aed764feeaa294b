"""quality_scale.yaml says only what the code does: each claim is checked against the source.

Read, not run: a rule marked done must have its evidence in the code or the docs, and a rule
must not be exempt or todo while the code already does it (as reauthentication and
inject-websession once were).
"""

from __future__ import annotations

import ast
from pathlib import Path
import re

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "eaio"
DOCS = (ROOT / "docs" / "INTEGRATION.md").read_text(encoding="utf-8")
RULES = yaml.safe_load((INTEGRATION / "quality_scale.yaml").read_text(encoding="utf-8"))["rules"]
SOURCE = {p.name: p.read_text(encoding="utf-8") for p in INTEGRATION.glob("*.py")}
CODE = "\n".join(SOURCE.values())


def _status(rule: str) -> str:
    value = RULES[rule]
    return str(value if isinstance(value, str) else value["status"])


def _platforms() -> list[str]:
    tree = ast.parse(SOURCE["__init__.py"])
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "PLATFORMS":
            assert isinstance(node.value, ast.List)
            return [str(getattr(e, "attr", "")).lower() for e in node.value.elts]
    raise AssertionError("no PLATFORMS in __init__.py")


def _doc_has(heading: str) -> bool:
    return re.search(rf"^#+ {re.escape(heading)}", DOCS, re.M) is not None


# rule -> (what shows it is done, in words; whether the code and docs show it)
EVIDENCE: dict[str, tuple[str, bool]] = {
    "reauthentication-flow": (
        "a reauth step and ConfigEntryAuthFailed",
        "async def async_step_reauth(" in SOURCE["config_flow.py"] and "raise ConfigEntryAuthFailed" in CODE,
    ),
    "reconfiguration-flow": (
        "a reconfigure step",
        "async def async_step_reconfigure(" in SOURCE["config_flow.py"],
    ),
    "discovery": ("a discovery step", "async def async_step_hassio(" in SOURCE["config_flow.py"]),
    "discovery-update-info": (
        "discovery updates the entry",
        "_abort_if_unique_id_configured(updates=" in SOURCE["config_flow.py"],
    ),
    "repair-issues": ("issues created", "async_create_issue(" in CODE),
    "diagnostics": ("diagnostics", "async_get_config_entry_diagnostics" in SOURCE.get("diagnostics.py", "")),
    "inject-websession": (
        "Home Assistant's session, none of its own",
        "async_get_clientsession(" in CODE and not re.search(r"ClientSession\(", CODE),
    ),
    "entity-event-setup": ("subscriptions undone on removal", "self.async_on_remove(" in SOURCE["entity.py"]),
    "parallel-updates": (
        "PARALLEL_UPDATES in every platform",
        all(re.search(r"^PARALLEL_UPDATES = \d+$", SOURCE[f"{p}.py"], re.M) for p in _platforms()),
    ),
    "icon-translations": (
        "no icon set in code",
        (INTEGRATION / "icons.json").exists() and not re.search(r"_attr_icon =|\bicon=\"mdi:", CODE),
    ),
    "docs-installation-instructions": ("an Installation section", _doc_has("Installation")),
    "docs-removal-instructions": ("a Removal section", _doc_has("Removal")),
    "docs-configuration-parameters": (
        "a Configuration parameters section",
        _doc_has("Configuration parameters"),
    ),
    "docs-installation-parameters": (
        "a Configuration parameters section",
        _doc_has("Configuration parameters"),
    ),
    "docs-data-update": ("a How data is updated section", _doc_has("How data is updated")),
    "docs-examples": ("automation examples", "```yaml\n# automation:" in DOCS),
    "docs-known-limitations": ("a Known limitations section", _doc_has("Known limitations")),
    "docs-troubleshooting": ("a Troubleshooting section", _doc_has("Troubleshooting")),
    "docs-use-cases": ("a Use cases section", _doc_has("Use cases and automation examples")),
    "docs-supported-devices": ("a Supported devices section", _doc_has("Supported devices")),
}


@pytest.mark.parametrize("rule", sorted(EVIDENCE))
def test_a_claim_matches_the_code(rule: str) -> None:
    what, shown = EVIDENCE[rule]
    status = _status(rule)
    if status == "done":
        assert shown, f"{rule} is marked done, but the code shows no {what}"
    else:
        assert not shown, f"{rule} is marked {status}, but the code has {what}: mark it done"


def test_every_platform_limits_parallel_updates() -> None:
    platforms = _platforms()
    assert "sensor" in platforms and len(platforms) >= 5
    missing = [p for p in platforms if not re.search(r"^PARALLEL_UPDATES = \d+$", SOURCE[f"{p}.py"], re.M)]
    assert missing == []


def test_every_exemption_and_todo_says_why() -> None:
    silent = [
        r for r, v in RULES.items() if _status(r) != "done" and not (isinstance(v, dict) and v.get("comment"))
    ]
    assert silent == []
