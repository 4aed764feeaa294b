"""The files Home Assistant and HACS read agree with each other and with the code."""

from __future__ import annotations

import json
from pathlib import Path
import re

import yaml

from custom_components.eaio.bms.bounds import WriteRefused, check_write
from custom_components.eaio.bms.profiles import load_catalog

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "custom_components" / "eaio"


def _translations() -> dict[str, object]:
    return json.loads((PACKAGE / "translations" / "en.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def test_manifest_is_ordered_and_complete() -> None:
    manifest = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    for key in ("codeowners", "config_flow", "documentation", "integration_type", "iot_class",
                "issue_tracker", "requirements", "version"):  # fmt: skip
        assert key in manifest, key
    assert manifest["integration_type"] == "hub"
    assert any(r.startswith("pymodbus>=") for r in manifest["requirements"])


def test_hacs_and_brand() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert re.fullmatch(r"20\d\d\.\d+\.\d+", hacs["homeassistant"])
    assert (PACKAGE / "brand" / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_raised_translation_key_exists() -> None:
    exceptions = _translations()["exceptions"]
    assert isinstance(exceptions, dict)
    raised = set(
        re.findall(r'translation_key="([a-z_]+)"', "".join(p.read_text() for p in PACKAGE.glob("*.py")))
    )
    raised |= {"write_" + r for r in _refusal_reasons()}
    assert raised - set(exceptions) == set()


def _refusal_reasons() -> set[str]:
    hvac = load_catalog(None).profiles["hvac_unit"]
    reasons = set()
    for key, value in [("zone_temperature", 1), ("cooling_setpoint", 99), ("cooling_setpoint", 22.2),
                       ("cooling_setpoint", "x"), ("unit_enable", "x")]:  # fmt: skip
        try:
            check_write(hvac.by_key[key], value)
        except WriteRefused as err:
            reasons.add(err.reason)
    return reasons


def test_services_are_translated() -> None:
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text(encoding="utf-8"))
    translated = _translations()["services"]
    assert isinstance(translated, dict)
    assert set(services) == set(translated)
    for name, spec in services.items():
        assert set(spec["fields"]) == set(translated[name]["fields"]), name


def test_config_flow_strings_cover_the_errors() -> None:
    text = (PACKAGE / "config_flow.py").read_text(encoding="utf-8")
    config = _translations()["config"]
    assert isinstance(config, dict)
    used = set(re.findall(r'return "([a-z_]+)"', text)) | set(re.findall(r'\] = "([a-z_]+)"', text))
    known = set(config["error"]) | set(_translations()["options"]["error"])  # type: ignore[index]
    assert used and used <= known
