"""How times and money read to a person: in Home Assistant's time zone and currency, the day said when it is not today.

Home Assistant's configuration gives the zone (``time_zone``, an IANA name) and the currency (an
ISO 4217 code such as ``EUR``); the add-on learns both over its websocket link. A time that falls
tomorrow says so; one further out names its weekday.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str | None) -> tzinfo:
    """The zone named by Home Assistant; UTC when it named none or one this machine does not know."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return UTC


def clock(when: datetime, tz: tzinfo | str | None, now: datetime) -> str:
    """``16:00``, ``tomorrow 16:00`` or ``Wed 16:00``: ``when`` in the zone, against today there."""
    place = zone(tz) if tz is None or isinstance(tz, str) else tz
    local, today = when.astimezone(place), now.astimezone(place).date()
    days = (local.date() - today).days
    if days == 0:
        return f"{local:%H:%M}"
    if days == 1:
        return f"tomorrow {local:%H:%M}"
    return f"{local:%a %H:%M}"


def span(start: datetime, end: datetime, tz: tzinfo | str | None, now: datetime) -> str:
    """``16:00-18:00`` or ``tomorrow 16:00-18:00``: the day is said once, for the start."""
    place = zone(tz) if tz is None or isinstance(tz, str) else tz
    return f"{clock(start, place, now)}-{end.astimezone(place):%H:%M}"


def money(amount: float, currency: str, digits: int = 2) -> str:
    """``0.61 EUR``; without a known currency only the number (never another currency's sign)."""
    return f"{amount:.{digits}f} {currency}" if currency else f"{amount:.{digits}f}"


def per_kwh(currency: str) -> str:
    """The unit of a price: ``EUR/kWh``."""
    return f"{currency}/kWh" if currency else "per kWh"
