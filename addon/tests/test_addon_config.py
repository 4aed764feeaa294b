"""The add-on package: config.yaml against the add-on config schema and the Supervisor's option types."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, HTTPServer
import json
from pathlib import Path
import re
import socket
import subprocess
import sys
import threading
import tomllib
from typing import Any

from eaio_addon import __version__
from eaio_addon.cli import DEFAULT_PORT
from eaio_addon.option_types import OptionError, SchemaError, check_schema, parse_element, validate
from eaio_addon.options import DEFAULTS, SCHEMA
import jsonschema
import pytest
import yaml

ADDON = Path(__file__).resolve().parents[1]
REPO = ADDON.parent
SCHEMAS = Path(__file__).resolve().parent / "schemas"  # the add-on linter's schema, copied (see its README)


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def config_schema() -> dict[str, Any]:
    path = SCHEMAS / "addon-config.schema.json"
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def test_config_matches_the_addon_config_schema(config: dict[str, Any], config_schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(config_schema, format_checker=jsonschema.FormatChecker()).validate(config)


def test_no_key_is_set_to_its_default(config: dict[str, Any], config_schema: dict[str, Any]) -> None:
    # The linter flags these: a key at its default only adds noise.
    properties = config_schema["properties"]
    redundant = [k for k, v in config.items() if "default" in properties.get(k, {}) and properties[k]["default"] == v]
    assert not redundant


def test_bad_config_is_refused_by_the_schema(config: dict[str, Any], config_schema: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(config_schema)
    for bad in ({**config, "arch": ["sparc"]}, {**config, "startup": "whenever"},
                {k: v for k, v in config.items() if k != "slug"}, {**config, "unknown_key": 1}):
        assert list(validator.iter_errors(bad))


def test_identity_and_permissions(config: dict[str, Any]) -> None:
    assert config["slug"] == "eaio"
    assert config["version"] == __version__
    assert tomllib.loads((ADDON / "pyproject.toml").read_text())["project"]["version"] == __version__
    assert sorted(config["arch"]) == ["aarch64", "amd64"]
    assert config["homeassistant_api"] is True
    assert not config.get("hassio_api", False)  # discovery needs none (see the comment in config.yaml)
    assert config["discovery"] == ["eaio", "mcp"]  # the integration, and the MCP server for Home Assistant's client
    assert config["ingress"] is True
    assert config.get("ingress_port", 8099) == DEFAULT_PORT
    assert f"{DEFAULT_PORT}/tcp" in config["ports"]
    assert config["options"]["autopilot"] is False


def test_schema_and_defaults_are_the_runtimes(config: dict[str, Any]) -> None:
    # The running add-on cannot read config.yaml; options.py carries the same two blocks.
    assert config["schema"] == SCHEMA
    assert config["options"] == DEFAULTS


def test_config_schema_follows_the_supervisor_grammar(config: dict[str, Any]) -> None:
    check_schema(config["schema"])
    # And the defaults pass it, as the Supervisor checks them when it installs the add-on.
    validate(config["schema"], config["options"])


def test_translations_name_every_option(config: dict[str, Any]) -> None:
    translations = yaml.safe_load((ADDON / "translations" / "en.yaml").read_text(encoding="utf-8"))
    assert set(translations["configuration"]) == set(config["schema"])
    for key, text in translations["configuration"].items():
        assert text.get("name") and text.get("description"), key
        if isinstance(config["schema"][key], dict):  # a nested option names each of its fields too
            assert set(text.get("fields", {})) == set(config["schema"][key]), key
            for field, inner in text["fields"].items():
                assert inner.get("name") and inner.get("description"), f"{key}.{field}"
    assert set(translations["network"]) == set(config["ports"])


def test_dockerfile_pins_its_base_image() -> None:
    text = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    froms = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert len(froms) == 1
    image = froms[0]
    assert image.startswith("ghcr.io/home-assistant/${BUILD_ARCH}-base-python:")
    tag = image.rsplit(":", 1)[1]
    assert re.fullmatch(r"3\.13-alpine3\.\d+", tag), tag
    assert "BUILD_FROM" not in text.replace("no longer passes BUILD_FROM", "")
    assert re.search(r"^ARG BUILD_ARCH=amd64$", text, re.MULTILINE)
    assert (ADDON / "run.sh").stat().st_mode & 0o111
    assert not (ADDON / "build.yaml").exists()


def test_package_files_exist() -> None:
    for name in ("DOCS.md", "CHANGELOG.md", "README.md", "icon.png", "logo.png", "apparmor.txt",
                 "docker-compose.yml"):
        assert (ADDON / name).is_file(), name
    assert f"## {__version__}" in (ADDON / "CHANGELOG.md").read_text(encoding="utf-8")
    repository = yaml.safe_load((REPO / "repository.yaml").read_text(encoding="utf-8"))
    assert repository["name"] and repository["url"].startswith("https://") and repository["maintainer"]


def test_images_are_pngs_of_the_stores_shapes() -> None:
    for name, landscape in (("icon.png", False), ("logo.png", True)):
        data = (ADDON / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", name
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width > height) if landscape else (width == height), name
        assert 100 <= height <= 512, name


def test_apparmor_profile_is_one_profile_that_may_use_data() -> None:
    text = (ADDON / "apparmor.txt").read_text(encoding="utf-8")
    # The Supervisor renames the one top-level profile to the add-on's slug; a second one would be refused.
    assert re.findall(r"^profile\s+(\S+)", text, re.MULTILINE) == [config_slug()]
    assert text.count("{") == text.count("}")
    assert re.search(r"^\s*/data/\*\* rw", text, re.MULTILINE)
    assert re.search(r"^\s*network inet stream,", text, re.MULTILINE)


def config_slug() -> str:
    loaded: dict[str, Any] = yaml.safe_load((ADDON / "config.yaml").read_text(encoding="utf-8"))
    return str(loaded["slug"])


def _healthcheck_command() -> list[str]:
    text = (ADDON / "Dockerfile").read_text(encoding="utf-8")
    checks = re.findall(r"^HEALTHCHECK\b(.*?CMD\s+(\[.*?\]))\s*$", text.replace("\\\n", " "), re.MULTILINE | re.DOTALL)
    assert len(checks) == 1
    command: list[str] = json.loads(checks[0][1])
    return command


def _answering(status: int) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _run_check(command: list[str], port: int) -> int:
    assert command[:2] == ["python3", "-c"] and f", {DEFAULT_PORT}," in command[2]
    code = command[2].replace(f", {DEFAULT_PORT},", f", {port},")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30).returncode


def test_docker_healthcheck_replaces_the_watchdog(config: dict[str, Any]) -> None:
    assert "watchdog" not in config
    command = _healthcheck_command()
    # Run the image's check itself against a loopback server: an API that answers (even 401 without
    # a token) is healthy; a 5xx or no listener is not.
    for status, healthy in ((200, True), (401, True), (503, False)):
        server = _answering(status)
        try:
            assert (_run_check(command, server.server_address[1]) == 0) is healthy, status
        finally:
            server.shutdown()
            server.server_close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    assert _run_check(command, closed) != 0


# --- the grammar itself ---------------------------------------------------------------------------

GOOD_ELEMENTS = [
    "str", "str?", "str(3,)", "str(,10)", "password", "password(8,64)?", "bool", "bool?", "int", "int(0,10)",
    "int(5,)", "float", "float(10,35)", "float(0.5,2.5)?", "email", "url", "url?", "port", "device",
    "device(subsystem=tty)", "match(^[a-z]+$)", "match(^\\d{2}:\\d{2}$)?", "list(debug|info)", "list(a)?",
]
BAD_ELEMENTS = [
    "string", "integer", "int(-5,5)", "float(-1,1)", "float(a,b)", "int(1.5,2)", "str(", "list()", "list(a||b)",
    "match()x", "match([)", "bool??", "device(tty)", "Int", " str", "float(3,2)", "", "url!",
]


@pytest.mark.parametrize("text", GOOD_ELEMENTS)
def test_good_elements_parse(text: str) -> None:
    element = parse_element(text)
    assert element.optional == text.endswith("?")


@pytest.mark.parametrize("text", BAD_ELEMENTS)
def test_bad_elements_are_refused(text: str) -> None:
    with pytest.raises(SchemaError):
        parse_element(text)


def test_nested_schemas() -> None:
    check_schema({"a": ["str"], "b": [{"x": "int", "y": "float?"}], "c": {"d": "bool", "e": {"f": ["port"]}}})
    for bad, where in (
        ({"a": [["str"]]}, "a"),  # a list may not hold a list
        ({"a": ["str", "int"]}, "a"),  # one element type only
        ({"a": []}, "a"),
        ({"a": {"b": "integer"}}, "a.b"),
        ({"a": [{"b": "nope"}]}, "a[].b"),
        ({"a": 5}, "a"),
        ([], "schema"),
    ):
        with pytest.raises(SchemaError, match=re.escape(where)):
            check_schema(bad)


def test_values_against_elements() -> None:
    schema = {"n": "int(1,5)", "f": "float(10,35)", "b": "bool", "u": "url", "e": "email", "p": "port",
              "l": "list(x|y)", "m": "match(^[a-z]+$)", "s": "str?", "items": [{"k": "str", "v": "float?"}]}
    good = {"n": "3", "f": 21.5, "b": "true", "u": "http://h:1", "e": "a@b.io", "p": 8099, "l": "y", "m": "abc",
            "items": [{"k": "a"}, {"k": "b", "v": 1}]}
    out = validate(schema, good)
    assert out["n"] == 3 and out["b"] is True and "s" not in out and out["items"][1] == {"k": "b", "v": 1.0}
    for key, value in (("n", 6), ("n", 2.5), ("f", 9.9), ("f", "warm"), ("b", "maybe"), ("u", "h:1"),
                       ("e", "nobody"), ("p", 70000), ("l", "z"), ("m", "ABC"), ("items", {"k": "a"})):
        with pytest.raises(OptionError) as info:
            validate(schema, {**good, key: value})
        assert info.value.path == key
    with pytest.raises(OptionError, match=r"items\[1\]\.k.*missing"):
        validate(schema, {**good, "items": [{"k": "a"}, {"v": 2}]})
    with pytest.raises(OptionError, match="did you mean 'items'"):
        validate(schema, {**good, "itemz": []})
