"""Options: defaults, validation with clear errors, files, and the command line's two modes."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

from eaio_addon.cli import EXIT_CONFIG, ConfigError, build_settings
from eaio_addon.option_types import OptionError
from eaio_addon.options import DEFAULTS, load_options, parse_options
import pytest

ADDON = Path(__file__).resolve().parents[1]


def test_defaults_alone_are_valid() -> None:
    options = parse_options({})
    assert options.ollama_url is None
    assert options.autopilot is False
    assert options.backfill_days == 30
    assert options.price_at(0) == pytest.approx(0.30)


def test_a_full_set() -> None:
    options = parse_options({
        "ollama_url": "http://192.168.1.20:11434",
        "entities": ["sensor.grid_energy", "climate.office", "sensor.grid_energy"],
        "tariff": [{"start": "22:00", "price": 0.22}, {"start": "07:00", "price": "0.34"}],
        "comfort_min": 19, "comfort_max": 25.5, "autopilot": "on", "log_level": "debug",
    })
    assert options.entities == ("sensor.grid_energy", "climate.office")  # repeats dropped, order kept
    assert [p.start_minute for p in options.tariff] == [420, 1320]
    assert options.price_at(6 * 60) == pytest.approx(0.22)  # before 07:00 the 22:00 period still runs
    assert options.price_at(12 * 60) == pytest.approx(0.34)
    assert options.price_at(23 * 60) == pytest.approx(0.22)
    assert options.autopilot is True
    assert options.comfort_min == 19.0


@pytest.mark.parametrize(("raw", "path", "words"), [
    ({"comfort_min": 50}, "comfort_min", "above the maximum 35"),
    ({"comfort_min": 24, "comfort_max": 22}, "comfort_min", "must be below comfort_max"),
    ({"comfort_max": "warm"}, "comfort_max", "expected a number"),
    ({"ollama_url": "localhost:11434"}, "ollama_url", "not a URL"),
    ({"entities": ["Sensor.Grid"]}, "entities[0]", "does not match"),
    ({"entities": "sensor.grid"}, "entities", "expected a list"),
    ({"tariff": []}, "tariff", "at least one period"),
    ({"tariff": [{"start": "7:00", "price": 0.3}]}, "tariff[0].start", "does not match"),
    ({"tariff": [{"start": "07:00"}]}, "tariff[0].price", "missing"),
    ({"tariff": [{"start": "07:00", "price": 1}, {"start": "07:00", "price": 2}]}, "tariff", "07:00"),
    ({"log_level": "verbose"}, "log_level", "not one of debug, info, warning, error"),
    ({"backfill_days": 60}, "backfill_days", "longer than raw_retention_days"),
    ({"backfill_days": -1}, "backfill_days", "below the minimum"),
    ({"model": "  "}, "model", "must not be empty"),
    ({"autopilot": "sometimes"}, "autopilot", "true or false"),
    ({"entites": []}, "entites", "did you mean 'entities'"),
])
def test_bad_options_name_the_option_and_the_problem(raw: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_options(raw)
    assert info.value.path == path
    assert words in str(info.value)


def test_no_battery_by_default() -> None:
    options = parse_options({})
    assert options.battery is None
    assert parse_options({"battery": None}).battery is None  # "battery:" left empty in a YAML file
    assert options.learned_entities == ()


def test_a_battery() -> None:
    options = parse_options({"entities": ["sensor.grid_energy"],
                             "battery": {"capacity_kwh": 13.5, "max_power_kw": "5", "soc_entity": "sensor.pw_soc"}})
    battery = options.battery
    assert battery is not None
    assert battery.capacity_kwh == 13.5 and battery.max_power_kw == 5.0
    # The empty fields take their documented defaults; the efficiency becomes a fraction.
    assert battery.round_trip_efficiency == pytest.approx(0.90)
    assert (battery.min_soc, battery.max_soc) == (10.0, 100.0)
    assert battery.soc_entity == "sensor.pw_soc"
    assert options.entities == ("sensor.grid_energy",)
    assert options.learned_entities == ("sensor.grid_energy", "sensor.pw_soc")  # the collector learns the sensor
    full = parse_options({"entities": ["sensor.pw_soc"], "battery": {
        "capacity_kwh": 10, "max_power_kw": 3, "round_trip_efficiency": 85, "min_soc": 20, "max_soc": 90,
        "soc_entity": "sensor.pw_soc"}})
    assert full.battery is not None and full.battery.round_trip_efficiency == pytest.approx(0.85)
    assert (full.battery.min_soc, full.battery.max_soc) == (20.0, 90.0)
    assert full.learned_entities == ("sensor.pw_soc",)  # listed once


@pytest.mark.parametrize(("battery", "path", "words"), [
    ({"capacity_kwh": 0}, "battery.capacity_kwh", "below the minimum 0.1"),
    ({"capacity_kwh": 5000, "max_power_kw": 5}, "battery.capacity_kwh", "above the maximum 1000"),
    ({"capacity_kwh": 10}, "battery.max_power_kw", "missing"),
    ({"max_power_kw": 5, "soc_entity": "sensor.pw_soc"}, "battery.capacity_kwh", "needs its capacity"),
    ({"capacity_kwh": 10, "max_power_kw": 0}, "battery.max_power_kw", "below the minimum"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "round_trip_efficiency": 0.9}, "battery.round_trip_efficiency",
     "below the minimum 50"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "round_trip_efficiency": 120}, "battery.round_trip_efficiency",
     "above the maximum 100"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "min_soc": 101}, "battery.min_soc", "above the maximum 100"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "min_soc": 12.5}, "battery.min_soc", "whole number"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "min_soc": 80, "max_soc": 80}, "battery.min_soc",
     "must be below max_soc (80%)"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "max_soc": 5}, "battery.min_soc", "must be below max_soc (5%)"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "soc_entity": "Sensor.SOC"}, "battery.soc_entity", "does not match"),
    ({"capacity_kwh": 10, "max_power_kw": 5, "capacity": 10}, "battery.capacity", "did you mean 'capacity_kwh'"),
    ("10 kWh", "battery", "expected a mapping"),
])
def test_bad_batteries_name_the_field_and_the_problem(battery: object, path: str, words: str) -> None:
    with pytest.raises(OptionError) as info:
        parse_options({"battery": battery})
    assert info.value.path == path
    assert words in str(info.value)


def test_files(tmp_path: Path) -> None:
    (tmp_path / "o.yaml").write_text("comfort_min: 21\nentities:\n  - sensor.a\n")
    assert load_options(tmp_path / "o.yaml").entities == ("sensor.a",)
    (tmp_path / "o.json").write_text(json.dumps({**DEFAULTS, "autopilot": True}))
    assert load_options(tmp_path / "o.json").autopilot is True
    (tmp_path / "empty.yaml").write_text("")
    assert load_options(tmp_path / "empty.yaml").model == DEFAULTS["model"]
    (tmp_path / "broken.json").write_text("{\"model\": ")
    with pytest.raises(OptionError, match="not valid JSON"):
        load_options(tmp_path / "broken.json")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(OptionError, match="mapping"):
        load_options(tmp_path / "list.yaml")
    with pytest.raises(OptionError, match="cannot read"):
        load_options(tmp_path / "absent.yaml")


def test_standalone_settings(tmp_path: Path) -> None:
    settings = build_settings(["--ha-url", "http://10.0.0.5:8123/", "--data-dir", str(tmp_path)],
                              {"EAIO_HA_TOKEN": "abc"})
    assert settings.mode == "standalone"
    assert settings.ha_ws_url == "ws://10.0.0.5:8123/api/websocket"
    assert settings.ha_token == "abc"
    assert settings.host == "127.0.0.1" and settings.port == 8099
    assert settings.supervisor_token is None
    settings = build_settings(["--ha-url", "https://ha.example:8123", "--token", "t", "--data-dir", str(tmp_path),
                               "--port", "0", "--host", "0.0.0.0"], {})
    assert settings.ha_ws_url == "wss://ha.example:8123/api/websocket" and settings.port == 0


def test_supervisor_settings(tmp_path: Path) -> None:
    (tmp_path / "options.json").write_text(json.dumps(DEFAULTS))
    settings = build_settings(["--data-dir", str(tmp_path), "--options", str(tmp_path / "options.json")],
                              {"SUPERVISOR_TOKEN": "sup"})
    assert settings.mode == "supervisor"
    assert settings.ha_ws_url == "ws://supervisor/core/websocket"
    assert settings.ha_token == settings.supervisor_token == "sup"
    assert settings.host == "0.0.0.0"


@pytest.mark.parametrize(("argv", "env", "words"), [
    ([], {}, "needs --ha-url"),
    (["--ha-url", "http://h:8123", "--data-dir", "d"], {}, "EAIO_HA_TOKEN"),
    (["--ha-url", "http://h:8123", "--token", "t"], {}, "--data-dir"),
    (["--ha-url", "h:8123", "--token", "t", "--data-dir", "d"], {}, "must start with http"),
    (["--ha-url", "http://h:8123", "--token", "t", "--data-dir", "d", "--port", "70000"], {}, "not a port"),
])
def test_missing_arguments_are_explained(argv: list[str], env: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        build_settings(argv, env)


def test_malformed_options_stop_the_process_with_a_message(tmp_path: Path) -> None:
    options = tmp_path / "options.yaml"
    options.write_text("comfort_min: 50\n")
    proc = subprocess.run(
        [sys.executable, "-m", "eaio_addon", "--ha-url", "http://127.0.0.1:9", "--token", "t",
         "--data-dir", str(tmp_path / "data"), "--options", str(options)],
        cwd=ADDON, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == EXIT_CONFIG
    assert "option 'comfort_min'" in proc.stderr and "above the maximum 35" in proc.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was written


def test_roles_are_optional_entity_ids_and_are_learned() -> None:
    options = parse_options({"entities": ["sensor.outdoor"], "roles": {"load": "sensor.grid_import_power",
                                                                       "outdoor": "sensor.outdoor"}})
    assert dict(options.roles) == {"load": "sensor.grid_import_power", "outdoor": "sensor.outdoor"}
    assert options.learned_entities == ("sensor.outdoor", "sensor.grid_import_power")
    assert parse_options({"roles": None}).roles == {}
    with pytest.raises(OptionError, match=r"roles\.lod.*did you mean 'load'"):
        parse_options({"roles": {"lod": "sensor.x"}})
    with pytest.raises(OptionError, match=r"roles\.indoor"):
        parse_options({"roles": {"indoor": "Living room"}})
