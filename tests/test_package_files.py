"""The files Home Assistant and HACS read agree with each other and with the code."""

from __future__ import annotations

import ast
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
    raised = _translation_keys_of_calls(re.compile(r"(Error|Exception|Failed|NotReady)$"))
    assert raised, "no exception with a translation key found: the search is broken"
    raised |= {"write_" + r for r in _refusal_reasons()}
    assert raised - set(exceptions) == set()


def test_every_repair_issue_is_translated() -> None:
    issues = _translations().get("issues", {})
    assert isinstance(issues, dict)
    assert _translation_keys_of_calls(re.compile(r"^async_create_issue$")) - set(issues) == set()


def _translation_keys_of_calls(callee: re.Pattern[str]) -> set[str]:
    """The constant translation_key= of every call to a callee whose name matches.

    Entity descriptions carry translation keys too (entity names and icons); only the calls named
    count here.
    """
    keys = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if not callee.search(name):
                continue
            keys |= {k.value.value for k in node.keywords
                     if k.arg == "translation_key" and isinstance(k.value, ast.Constant) and isinstance(k.value.value, str)}
    return keys


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


# --- what the integration store's validation checks, offline -------------------------------------

STORE_KEYS = {"name", "content_in_root", "zip_release", "filename", "hide_default_branch", "country",
              "homeassistant", "persistent_directory", "render_readme", "hacs"}  # fmt: skip


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_store_manifest_keys_and_layout() -> None:
    store = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert set(store) <= STORE_KEYS and store["name"]
    assert not store.get("content_in_root") and not store.get("zip_release")
    # The minimum release is the oldest one ./scripts/test runs the suite on (2025.4.4).
    assert tuple(int(p) for p in store["homeassistant"].split(".")) <= (2025, 4, 4)
    # One integration per repository, in custom_components/<domain>.
    integrations = [p.name for p in (ROOT / "custom_components").iterdir() if p.is_dir() and p.name != "__pycache__"]
    assert integrations == ["eaio"]
    if store.get("render_readme"):
        assert (ROOT / "README.md").stat().st_size > 0


def test_manifest_keys_a_custom_integration_needs() -> None:
    manifest = json.loads((PACKAGE / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["domain"] == PACKAGE.name
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    for key in ("documentation", "issue_tracker"):
        assert manifest[key].startswith("https://"), key
    assert manifest["codeowners"] and all(c.startswith("@") for c in manifest["codeowners"])
    assert manifest["iot_class"] in {"local_polling", "local_push", "cloud_polling", "cloud_push", "calculated",
                                     "assumed_state"}  # fmt: skip
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+\s*(==|>=|~=)[^,]+(,\s*<[^,]+)?", r) for r in manifest["requirements"])


def test_brand_images_have_the_store_sizes() -> None:
    assert _png_size(PACKAGE / "brand" / "icon.png") == (256, 256)
    assert _png_size(PACKAGE / "brand" / "icon@2x.png") == (512, 512)


def test_license_is_mit() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "EAIO contributors" in text


def test_workflows_run_the_store_checks_and_the_test_command() -> None:
    workflows = {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / ".github" / "workflows").glob("*.yml")}
    steps = [step for w in workflows.values() for job in w["jobs"].values() for step in job["steps"]]
    # The store checks (the integration's validation, the integration store's, the add-on linter) are
    # public actions: one job each, each checking out the repository and running its action.
    checks = workflows["validate.yml"]["jobs"]
    assert len(checks) == 3
    for job in checks.values():
        assert job["steps"][0]["uses"].split("@")[0] == "actions/checkout" and len(job["steps"]) == 2
    assert checks["addon-linter"]["steps"][1]["with"]["path"] == "./addon"
    assert checks["hacs"]["steps"][1]["with"]["category"] == "integration"
    assert any(step.get("run") == "./scripts/test" for step in steps)
    assert "./scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


# --- every shipped profile fits the Home Assistant release running the tests ------------------------
# Device classes, units and state classes that fit change between releases: the suite runs on each.


def test_every_shipped_point_fits_this_home_assistant() -> None:
    from custom_components.eaio.profile_check import check_point

    catalog = load_catalog(None)
    assert catalog.profiles
    unfit = {f"{pid}.{p.key}": why for pid, profile in catalog.profiles.items() for p in profile.points
             if (why := check_point(p)) is not None}  # fmt: skip
    assert unfit == {}


def test_unfit_points_are_refused_with_the_reason() -> None:
    from custom_components.eaio.bms.points import DataType, Point, RegisterType
    from custom_components.eaio.profile_check import check_point

    def point(**kw: object) -> Point:
        return Point(key="p", name="P", register_type=kw.pop("register_type", RegisterType.INPUT), address=0, **kw)  # type: ignore[arg-type]

    cases = {
        "unknown state class 'sometimes'": point(state_class="sometimes"),
        "unknown sensor device class 'mood'": point(device_class="mood"),
        "text points cannot have a device class": point(data_type=DataType.STRING, length=4, device_class="power",
                                                        unit="W"),
        "unit 'kWh' does not fit device class 'power'": point(device_class="power", unit="kWh"),
        "state class 'total_increasing' does not fit device class 'temperature'": point(
            device_class="temperature", unit="°C", state_class="total_increasing"),
        "unknown binary sensor device class 'mood'": point(register_type=RegisterType.DISCRETE, device_class="mood"),
        "unknown number device class 'mood'": point(register_type=RegisterType.HOLDING, writable=True,
                                                    device_class="mood", minimum=0, maximum=1),
    }
    for reason, unfit in cases.items():
        assert (check_point(unfit) or "").startswith(reason), reason
    assert check_point(point(device_class="power", unit="W", state_class="measurement")) is None
    assert check_point(point(register_type=RegisterType.DISCRETE, device_class="door")) is None
