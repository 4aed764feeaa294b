"""CityLearn 2022 (phase 1) homes as EAIO hourly series: load, PV, weather, price, carbon.

The data is found in ``../shared/benchdata/citylearn_2022`` next to the repository, or in the
folder named by ``EAIO_BENCHDATA`` (either the ``citylearn_2022`` folder itself or its parent).
If neither exists, it is taken from the ``CityLearn==2.1.2`` wheel on PyPI, downloaded once
into ``.cache/citylearn`` (no install: the wheel is a zip, only its data files are read).

Time axis (the files only carry Month, Hour 1-24 and Day Type labels, no year):

- Day Type 1-7 is Monday-Sunday (8 would be a holiday; the files have none). The first row
  is labelled 31 July, hour 24, day type 7 (Sunday) and the last 31 July, hour 23, day type 1
  (Monday): that fits 31 July 2022 (a Sunday) to 31 July 2023 (a Monday), so the year is
  2022-08 to 2023-07 (2016-17 has the same weekdays and clock changes; either is consistent).
- Hour h is the hour *ending* at h:00 local time (hour 1 = 00:00-01:00), on the local clock
  of America/Los_Angeles: the PV column's daily centre of mass moves by one hour exactly on
  6 November 2022 and 12 March 2023, the clock changes of that zone and year. The files
  nonetheless give every day 24 rows, so on the spring day the row for the non-existent
  02:00-03:00 is dropped and on the autumn day the repeated 01:00-02:00 hour (which has one
  row) takes that row's values twice. The result is 8,760 consecutive UTC hours from
  2022-08-01 06:00 UTC (31 July 23:00 local) with no gaps.
- The "Daylight Savings Status" column is 0 throughout and is ignored. The weather file's
  irradiance is centred on solar noon in standard time all year (its centre does not move
  with the clock): it is kept row-aligned with the homes, as in the challenge itself.

The files' "prediction" columns are the actual values hours later, not forecasts: they are
never read here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
import os
from pathlib import Path
import subprocess
import sys
import zipfile
from zoneinfo import ZoneInfo

from eaio_addon.engine.series import FloatArray, HourlySeries
import numpy as np

TZ = "America/Los_Angeles"
BUILDINGS = (1, 2, 3, 4, 5)
PV_KW = {1: 4.0, 2: 4.0, 3: 4.0, 4: 5.0, 5: 4.0}
FIRST_LABEL_YEAR = 2022  # rows labelled August-December; January-July is the next year
DATASET = "citylearn_2022"
WHEEL = "CityLearn==2.1.2"
WHEEL_DATA = "citylearn/data/citylearn_challenge_2022_phase_1/"
FILES = (*(f"Building_{n}.csv" for n in BUILDINGS), "weather.csv", "pricing.csv", "carbon_intensity.csv")

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "citylearn"


@dataclass(frozen=True)
class Building:
    """One home's year. Energy series are kWh in the hour; ``pv_per_kw`` is kWh per kW of PV.

    ``weather`` holds "temperature" (deg C), "humidity" (%) and "solar" (W/m2, diffuse plus
    direct). ``price`` is $/kWh, ``carbon`` kg CO2/kWh. All series share one start and length.
    """

    load: HourlySeries
    pv_per_kw: HourlySeries
    pv_kw: float
    weather: dict[str, HourlySeries]
    price: HourlySeries
    carbon: HourlySeries
    tz: str = TZ

    @property
    def pv(self) -> HourlySeries:
        """PV generation of this home's array, kWh in the hour."""
        return HourlySeries(self.pv_per_kw.start, self.pv_per_kw.values * self.pv_kw)


def data_dir() -> Path:
    """The folder holding the CSV files, downloading them once if no copy is found."""
    env = os.environ.get("EAIO_BENCHDATA")
    candidates = [Path(env), Path(env) / DATASET] if env else []
    candidates += [REPO.parent / "shared" / "benchdata" / DATASET, CACHE / DATASET]
    for folder in candidates:
        if all((folder / name).is_file() for name in FILES):
            return folder
    return _download()


def _download() -> Path:
    """Fetch the wheel with pip (the data's published source) and unpack the data files."""
    target = CACHE / DATASET
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("[Cc]ity[Ll]earn-2.1.2-*.whl"))
    if not wheels:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.10", "--dest", str(CACHE), WHEEL]  # fmt: skip
        subprocess.run(cmd, check=True)
        wheels = sorted(CACHE.glob("[Cc]ity[Ll]earn-2.1.2-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip did not leave a {WHEEL} wheel in {CACHE}")
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheels[-1]) as wheel:
        for name in FILES:
            (target / name).write_bytes(wheel.read(WHEEL_DATA + name))
    return target


def _read(path: Path) -> dict[str, FloatArray]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    return {
        name: np.array([float(r[i]) if r[i] else np.nan for r in body], dtype=np.float64)
        for i, name in enumerate(header)
    }


def _row_hours(rows: dict[str, FloatArray]) -> list[datetime | None]:
    """UTC start of each row's hour, or None for a row naming a local hour that never existed.

    Rows only carry the month, so the day comes from counting rows (24 per labelled day);
    the month and Day Type labels are then checked against the calendar of the chosen year.
    """
    zone = ZoneInfo(TZ)
    first = date(FIRST_LABEL_YEAR, 7, 31)
    labels = zip(*([int(v) for v in rows[name]] for name in ("Month", "Hour", "Day Type")), strict=True)
    result: list[datetime | None] = []
    for i, (month, hour, day_type) in enumerate(labels):
        day = first + timedelta(days=(i + 23) // 24)  # row 0 is hour 24 of the first day
        if day.month != month or (day_type != 8 and day.isoweekday() != day_type):
            raise ValueError(f"row {i} labelled month {month}, day type {day_type} is not {day}")
        naive = datetime(day.year, day.month, day.day) + timedelta(hours=hour - 1)
        local = naive.replace(tzinfo=zone)
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            result.append(None)  # spring forward: this wall-clock hour did not happen
        else:
            result.append(local.astimezone(UTC))
    return result


def _to_series(hours: list[datetime | None], values: FloatArray) -> HourlySeries:
    """Place row values on consecutive UTC hours; an hour with no row repeats the one before."""
    kept = [(t, v) for t, v in zip(hours, values, strict=True) if t is not None]
    start, end = kept[0][0], kept[-1][0] + timedelta(hours=1)
    out = np.full(int((end - start) / timedelta(hours=1)), np.nan)
    for t, v in kept:
        out[int((t - start) / timedelta(hours=1))] = v
    for i in range(1, len(out)):
        if np.isnan(out[i]) and not np.isnan(out[i - 1]):
            out[i] = out[i - 1]  # autumn: the repeated wall-clock hour had a single row
    return HourlySeries(start, out)


def load_building(n: int) -> Building:
    """Building ``n`` (1-5) with the shared weather, price and carbon of its year."""
    if n not in BUILDINGS:
        raise ValueError(f"building must be one of {BUILDINGS}, not {n}")
    folder = data_dir()
    rows = _read(folder / f"Building_{n}.csv")
    weather = _read(folder / "weather.csv")
    hours = _row_hours(rows)

    def series(values: FloatArray) -> HourlySeries:
        return _to_series(hours, values)

    return Building(
        load=series(rows["Equipment Electric Power [kWh]"]),
        pv_per_kw=series((rows["Solar Generation [W/kW]"] / 1000.0).astype(np.float64)),
        pv_kw=PV_KW[n],
        weather={
            "temperature": series(weather["Outdoor Drybulb Temperature [C]"]),
            "humidity": series(weather["Relative Humidity [%]"]),
            "solar": series(weather["Diffuse Solar Radiation [W/m2]"] + weather["Direct Solar Radiation [W/m2]"]),
        },
        price=series(_read(folder / "pricing.csv")["Electricity Pricing [$/kWh]"]),
        carbon=series(_read(folder / "carbon_intensity.csv")["kg_CO2/kWh"]),
    )
