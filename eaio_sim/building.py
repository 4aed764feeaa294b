"""Plausible, moving values for the shipped profiles' points (a small office, one zone)."""

from __future__ import annotations

from dataclasses import dataclass, field
import math
import random

from .battery import BatteryModel

PLUG_LOAD_W = 1800.0  # the appliance behind the smart plug (a dishwasher's heating phase)


def daylight(day: float) -> float:
    """Share of full sun at ``day`` (the fraction of the day gone): 06:00 to 18:00, highest at noon."""
    return max(0.0, math.sin(math.pi * (day - 0.25) / 0.5)) if 0.25 < day < 0.75 else 0.0


def outdoor_temperature(day: float) -> float:
    """°C at ``day``: 6 °C before dawn to 22 °C mid-afternoon."""
    return 14.0 + 8.0 * math.sin(2 * math.pi * (day - 0.375))


@dataclass
class BuildingModel:
    """Values move with time of day; ``static`` freezes them at a fixed instant for tests."""

    static: bool = False
    seed: int = 7
    start_energy_kwh: float = 12345.67
    setpoints: dict[str, float] = field(
        default_factory=lambda: {
            "cooling_setpoint": 24.0,
            "heating_setpoint": 20.0,
            "fan_speed_setpoint": 60.0,
            "power_limit": 100.0,
            "battery_power_setpoint": 0.0,
        }
    )
    switches: dict[str, bool] = field(
        default_factory=lambda: {
            "unit_enable": True, "economizer_enable": False, "output_enabled": True,
            "battery_external_control": False, "plug_relay": False,
        }
    )  # fmt: skip
    battery: BatteryModel = field(default_factory=BatteryModel)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._energy = self.start_energy_kwh
        self._plug_kwh = 0.0
        self._last_t = 0.0

    def _noise(self, scale: float) -> float:
        return 0.0 if self.static else self._rng.gauss(0.0, scale)

    def values(self, t: float) -> dict[str, float | int | bool | str]:
        """All point values at time ``t`` (seconds since the simulation started)."""
        if self.static:
            t = 0.0
        values = self.at((t / 600.0) % 1.0, advance=not self.static)  # one simulated day every ten minutes
        # The battery and the plug run on real seconds: their energy is physics, not the accelerated day.
        dt, self._last_t = max(0.0, t - self._last_t), t
        surplus_kw = (float(values["ac_power"]) - float(values["total_power"])) / 1000.0
        self.battery.step(t, external=self.switches["battery_external_control"],
                          setpoint_kw=self.setpoints["battery_power_setpoint"], surplus_kw=surplus_kw)
        plug_w = PLUG_LOAD_W if self.switches["plug_relay"] else 0.0
        self._plug_kwh += plug_w / 1000.0 * dt / 3600.0
        values.update(
            battery_power=self.battery.power_kw, battery_soc=self.battery.soc_pct,
            battery_charged_energy=self.battery.charged_kwh, battery_discharged_energy=self.battery.discharged_kwh,
            plug_power=plug_w, plug_energy=self._plug_kwh,
        )  # fmt: skip
        return values

    def at(self, day: float, *, advance: bool = False) -> dict[str, float | int | bool | str]:
        """All point values at ``day`` (the fraction of the day gone); ``advance`` meters one second."""
        sun, outdoor = daylight(day), outdoor_temperature(day)
        running = self.switches["unit_enable"]
        zone = 22.5 + 1.5 * math.sin(2 * math.pi * (day - 0.4)) + self._noise(0.05)
        cooling = running and zone > self.setpoints["cooling_setpoint"] - 0.5
        fan = self.setpoints["fan_speed_setpoint"] if running else 0.0
        hvac_power = (1800.0 if cooling else 250.0) * fan / 100.0 + self._noise(10.0)
        base = 900.0 + 600.0 * sun + self._noise(20.0)
        per_phase = [base / 3 + hvac_power / 3 + d for d in (0.0, 35.0, -20.0)]
        voltages = [230.1 + self._noise(0.3), 229.4 + self._noise(0.3), 231.2 + self._noise(0.3)]
        pv = 4200.0 * sun * self.setpoints["power_limit"] / 100.0 if self.switches["output_enabled"] else 0.0
        self._energy += sum(per_phase) / 1000.0 / 3600.0 if advance else 0.0
        return {
            # three-phase meter
            "voltage_l1": voltages[0], "voltage_l2": voltages[1], "voltage_l3": voltages[2],
            "current_l1": per_phase[0] / voltages[0], "current_l2": per_phase[1] / voltages[1],
            "current_l3": per_phase[2] / voltages[2],
            "power_l1": per_phase[0], "power_l2": per_phase[1], "power_l3": per_phase[2],
            "total_power": sum(per_phase), "power_factor": 0.97, "frequency": 50.0 + self._noise(0.01),
            "import_energy": self._energy, "export_energy": 321.5,
            # single-phase meter
            "voltage": voltages[0], "current": per_phase[0] / voltages[0], "power": round(per_phase[0]),
            "energy": self._energy / 10.0,
            # PV inverter
            "model_name": "EAIO-PV5", "ac_power": round(pv), "dc_voltage": 380.0 + 20 * sun,
            "dc_current": pv / 400.0, "daily_energy": 12.3, "total_energy": 8765,
            "heatsink_temperature": 25.0 + 20.0 * sun, "operating_state": 4 if pv > 0 else 1,
            # HVAC unit
            "supply_air_temperature": 13.0 if cooling else zone - 1.0,
            "return_air_temperature": zone + 0.4, "outdoor_air_temperature": outdoor,
            "zone_temperature": zone, "zone_humidity": 45.0 + self._noise(0.2), "fan_speed": fan,
            "electrical_power": hvac_power, "electrical_energy": self._energy / 4.0,
            "compressor_running": cooling, "filter_alarm": False,
            **self.setpoints, **self.switches,
        }  # fmt: skip
