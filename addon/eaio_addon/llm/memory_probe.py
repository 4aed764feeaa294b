"""How full memory is, in percent: the container's cgroup limit when there is one, else the host's."""

from __future__ import annotations

import logging
from pathlib import Path

_LOGGER = logging.getLogger(__name__)

CGROUP_V2 = Path("/sys/fs/cgroup")
CGROUP_V1 = Path("/sys/fs/cgroup/memory")
MEMINFO = Path("/proc/meminfo")

# cgroup v1 reports "no limit" as a huge page-aligned number; anything above this is no limit.
_NO_LIMIT_V1 = 1 << 60


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text or text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def cgroup_used_pct(root_v2: Path = CGROUP_V2, root_v1: Path = CGROUP_V1) -> float | None:
    """Memory use against the cgroup limit, or None when no limit is set (then the host figure counts)."""
    limit = _read_int(root_v2 / "memory.max")
    used = _read_int(root_v2 / "memory.current")
    if limit and used is not None:
        return 100.0 * used / limit
    limit = _read_int(root_v1 / "memory.limit_in_bytes")
    used = _read_int(root_v1 / "memory.usage_in_bytes")
    if limit and used is not None and limit < _NO_LIMIT_V1:
        return 100.0 * used / limit
    return None


def meminfo_used_pct(path: Path = MEMINFO) -> float | None:
    """Host memory in use (total minus available), from /proc/meminfo."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    values: dict[str, int] = {}
    for line in lines:
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key] = int(parts[0])
    total, available = values.get("MemTotal"), values.get("MemAvailable")
    if not total or available is None:
        return None
    return 100.0 * (total - available) / total


def memory_used_pct() -> float:
    """The figure the model choice uses; 0.0 when nothing can be read (then memory is not the constraint)."""
    for probe in (cgroup_used_pct, meminfo_used_pct):
        value = probe()
        if value is not None:
            return value
    _LOGGER.debug("memory use unreadable (no cgroup limit, no /proc/meminfo)")
    return 0.0
