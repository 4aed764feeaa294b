"""The ``modbus`` and ``bacnet`` tools: devices and points, only through the integration's services.

Reads go to ``eaio.read_points`` and writes to ``eaio.write_point`` over the add-on's websocket
link, so the integration's bounds, read-back and audit apply to every write an MCP client asks for;
there is no other path to a device here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from .backend import CHANGES, READS, HaServices

DOMAIN = "eaio"
FieldBus = Literal["modbus", "bacnet"]
HaGetter = Callable[[], HaServices]

EntryId = Annotated[str, Field(min_length=1, max_length=64, description="the device's config entry id")]
PointKey = Annotated[str, Field(min_length=1, max_length=100, description="the point's key, e.g. cooling_setpoint")]


async def _ha(ha: HaGetter, payload: dict[str, Any] | None = None, *, service: str | None = None,
              data: dict[str, Any] | None = None) -> Any:
    # Home Assistant's own error text ("write_above_max: ...") is what the caller needs to read.
    try:
        if service is not None:
            return await ha().call_service(DOMAIN, service, data, return_response=service == "read_points")
        assert payload is not None
        return await ha().call(payload)
    except ToolError:
        raise
    except Exception as exc:
        raise ToolError(f"Home Assistant: {exc}") from exc


async def _entries(ha: HaGetter) -> list[dict[str, Any]]:
    # The integration's own command carries each entry's protocol; Home Assistant's
    # config_entries/get (for an integration too old to have it) leaves the entry's data out.
    try:
        entries = await ha().call({"type": "eaio/devices"})
    except Exception:  # unknown command (an older integration); a lost link fails again below, clearly
        entries = await _ha(ha, {"type": "config_entries/get", "domain": DOMAIN})
    return [e for e in entries or [] if isinstance(e, dict)]


def _source_type(entry: dict[str, Any]) -> str | None:
    data = entry.get("data")
    kind = data.get("source_type") if isinstance(data, dict) else entry.get("source_type")
    return kind if isinstance(kind, str) else None


def _device(entry: dict[str, Any]) -> dict[str, Any]:
    return {"config_entry_id": entry.get("entry_id"), "title": entry.get("title"), "state": entry.get("state"),
            "source_type": _source_type(entry)}


def _mapping(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


MAX_POINTS = 200
POINT_FIELDS = ("name", "unit", "writable", "min", "max", "step", "options")


def _point_list(response: dict[str, Any]) -> list[dict[str, Any]]:
    """Each point's key with its unit and write bounds, from the read reply's ``points`` descriptions;
    an integration that does not describe them still gives the keys (of values and errors) and units."""
    described = _mapping(response.get("points"))
    units = _mapping(response.get("units"))
    keys = sorted(set(described) or set(_mapping(response.get("values"))) | set(_mapping(response.get("errors"))))
    out = []
    for key in keys:
        about = _mapping(described.get(key))
        point: dict[str, Any] = {"key": key, **{f: about[f] for f in POINT_FIELDS if about.get(f) is not None}}
        if "unit" not in point and units.get(key):
            point["unit"] = units[key]
        out.append(point)
    return out


def add_fieldbus_tools(server: MCPServer, bus: FieldBus, ha: HaGetter) -> None:
    """Register ``<bus>_list_devices``, ``_list_points``, ``_read_points``, ``_write_point`` and scan/discover."""
    meta = {"category": bus}

    async def own_entry(entry_id: str) -> None:
        # An entry of another kind is refused here with a clear message; an unknown id goes on to the
        # integration, which names it in its own error.
        for entry in await _entries(ha):
            if entry.get("entry_id") == entry_id and (kind := _source_type(entry)) not in (None, bus):
                raise ToolError(f"{entry_id} ({entry.get('title')}) is a {kind} device, not {bus}")

    async def list_devices() -> dict[str, Any]:
        entries = await _entries(ha)
        answer: dict[str, Any] = {"devices": [_device(e) for e in entries if _source_type(e) == bus]}
        # Without the integration's eaio/devices command the kind may be unknown: such entries are
        # listed apart rather than hidden.
        if unknown := [_device(e) for e in entries if _source_type(e) is None]:
            answer["entries_of_unknown_kind"] = unknown
        return answer

    async def ask_read(entry_id: str, points: list[str] | None) -> dict[str, Any]:
        await own_entry(entry_id)
        data: dict[str, Any] = {"config_entry_id": entry_id}
        if points:
            data["points"] = points
        response = await _ha(ha, service="read_points", data=data)
        return response if isinstance(response, dict) else {}

    async def read(entry_id: str, points: list[str] | None) -> dict[str, Any]:
        # eaio.read_points answers {values, errors, units, requests, points}: the values are what a caller
        # asked for; errors say which points the device did not give and why.
        response = await ask_read(entry_id, points)
        answer: dict[str, Any] = {"config_entry_id": entry_id, "values": _mapping(response.get("values"))}
        for extra in ("errors", "units", "sources"):
            if mapping := _mapping(response.get(extra)):
                answer[extra] = mapping
        return answer

    async def list_points(config_entry_id: EntryId) -> dict[str, Any]:
        return {"config_entry_id": config_entry_id, "points": _point_list(await ask_read(config_entry_id, None))}

    async def read_points(
        config_entry_id: EntryId,
        # No maxItems in the schema: Home Assistant's MCP client (2026.2) cannot convert it and would drop
        # the whole server; the bound is checked here instead.
        points: Annotated[list[PointKey] | None, Field(description=f"omit for all points; at most {MAX_POINTS}")]
        = None,
    ) -> dict[str, Any]:
        if points is not None and len(points) > MAX_POINTS:
            raise ToolError(f"at most {MAX_POINTS} points per read, got {len(points)}")
        return await read(config_entry_id, points)

    async def write_point(config_entry_id: EntryId, point: PointKey, value: float | bool | str) -> dict[str, Any]:
        await own_entry(config_entry_id)
        await _ha(ha, service="write_point",
                  data={"config_entry_id": config_entry_id, "point": point, "value": value})
        return {"config_entry_id": config_entry_id, "point": point, "written": value}

    list_devices.__doc__ = f"The {bus} devices configured in the EAIO integration (config entry id, title, state)."
    list_points.__doc__ = (f"The points of one {bus} device: key (what read and write take), name, unit, "
                           "whether it is writable and its bounds (min, max, step) or options.")
    read_points.__doc__ = (f"Read points of a {bus} device through eaio.read_points: the latest values (pushed "
                           "ones as last notified), and errors for points the device did not give.")
    write_point.__doc__ = (f"Write one point of a {bus} device through eaio.write_point; the integration checks "
                           "the point's bounds, writes, reads back and logs who asked.")
    for fn, name in ((list_devices, "list_devices"), (list_points, "list_points"), (read_points, "read_points"),
                     (write_point, "write_point")):
        server.add_tool(fn, name=f"{bus}_{name}", description=fn.__doc__, meta=meta, structured_output=False,
                        annotations=CHANGES if fn is write_point else READS)

    if bus == "modbus":
        async def modbus_scan(config_entry_id: EntryId) -> dict[str, Any]:
            """Scan a Modbus device: read every point of its profile now and report values and failures."""
            return await read(config_entry_id, None)

        server.add_tool(modbus_scan, meta=meta, structured_output=False, annotations=READS)
    else:
        async def bacnet_discover() -> dict[str, Any]:
            """The BACnet devices known to the integration; finding new ones runs in its config flow."""
            devices = (await list_devices())["devices"]
            return {"devices": devices,
                    "discovery": "New BACnet devices are found by the EAIO integration's config flow "
                                 "(Settings → Devices & services → Add integration → EAIO → BACnet), "
                                 "which broadcasts Who-Is on the network; they then appear here."}

        server.add_tool(bacnet_discover, meta=meta, structured_output=False, annotations=READS)
