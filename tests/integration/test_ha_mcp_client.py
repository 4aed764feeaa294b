"""Home Assistant's own MCP client adds EAIO's MCP server, logging in through Home Assistant itself.

The add-on's MCP servers run as a peer process (the add-on's Python, tests/integration/mcp_peer.py).
Home Assistant's `mcp` integration gets a 401, finds the authorization server in the add-on's
metadata (Home Assistant), sends the person through Home Assistant's own authorize step (its
code made here, as the login page would), exchanges the code at Home Assistant's token endpoint and
connects with that token, which the add-on accepts because Home Assistant vouches for it.

Needs Home Assistant with the OAuth-capable `mcp` client (2026.2.3 here) and that integration's
requirement, the `mcp` package, in Home Assistant's environment; skipped otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import os
from pathlib import Path
import sys
from typing import Any
from urllib.parse import parse_qs, urlsplit

from homeassistant.auth.models import Credentials, User
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import Context, HomeAssistant
from homeassistant.helpers import llm
from homeassistant.setup import async_setup_component
import pytest

pytest.importorskip("homeassistant.components.mcp.application_credentials")
pytest.importorskip("mcp.client.streamable_http")

ROOT = Path(__file__).resolve().parents[2]
ADDON_PYTHON = os.environ.get("EAIO_ADDON_PYTHON") or str(ROOT / ".venv-addon" / "bin" / "python")


@pytest.fixture
async def addon_mcp(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """Starts the peer once Home Assistant's URL is known: ``await addon_mcp(ha_url)`` -> MCP URL."""
    processes: list[asyncio.subprocess.Process] = []

    async def start(ha_url: str) -> str:
        process = await asyncio.create_subprocess_exec(
            ADDON_PYTHON, str(ROOT / "tests" / "integration" / "mcp_peer.py"), ha_url,
            stdout=asyncio.subprocess.PIPE, stderr=sys.stderr,
            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # the add-on's own packages
        )  # fmt: skip
        processes.append(process)
        assert process.stdout is not None
        line = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert line.startswith("port "), line
        return f"http://127.0.0.1:{int(line.split()[1])}/mcp"

    yield start
    for process in processes:
        process.terminate()
        await process.wait()


@pytest.mark.parametrize(
    "my_home_assistant", [False, True], ids=["redirect_to_itself", "redirect_through_my"]
)
async def test_home_assistants_mcp_client_adds_eaio(
    my_home_assistant: bool,
    hass: HomeAssistant,
    hass_client: Any,
    hass_client_no_auth: Any,
    hass_admin_user: User,
    hass_admin_credential: Credentials,
    addon_mcp: Any,
) -> None:
    from homeassistant.components.application_credentials import (
        ClientCredential,
        async_import_client_credential,
    )
    from homeassistant.components.auth import create_auth_code

    await hass.auth.async_link_user(hass_admin_user, hass_admin_credential)
    for component in ("http", "api", "auth", "config", "application_credentials"):
        assert await async_setup_component(hass, component, {})
    client = await hass_client()
    ha_url = str(client.make_url("")).rstrip("/")
    mcp_url = await addon_mcp(ha_url)
    # The OAuth client's id is a URL on the host the login returns to: Home Assistant itself, or, with
    # My Home Assistant loaded (default_config loads it), my.home-assistant.io, which forwards the browser
    # to Home Assistant's callback (emulated below by calling that callback).
    if my_home_assistant:
        hass.config.components.add("my")  # its only effect here: where the login returns to
    client_id = "https://my.home-assistant.io/" if my_home_assistant else f"{ha_url}/"
    await async_import_client_credential(hass, "mcp", ClientCredential(client_id, "not-used"), "eaio")
    frontend = {"HA-Frontend-Base": ha_url}

    response = await client.post("/api/config/config_entries/flow", json={"handler": "mcp"}, headers=frontend)
    flow = await response.json()
    assert flow["step_id"] == "user", flow
    response = await client.post(f"/api/config/config_entries/flow/{flow['flow_id']}", json={"url": mcp_url},
                                 headers=frontend)  # fmt: skip
    step = await response.json()
    # The 401 sent it to OAuth discovery: the add-on named Home Assistant as the authorization server.
    if step.get("type") == "menu":
        response = await client.post(f"/api/config/config_entries/flow/{flow['flow_id']}",
                                     json={"next_step_id": "pick_implementation"}, headers=frontend)  # fmt: skip
        step = await response.json()
    assert step["type"] == "external", step
    authorize = urlsplit(step["url"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == f"{ha_url}/auth/authorize"
    query = parse_qs(authorize.query)
    assert query["redirect_uri"] == [
        "https://my.home-assistant.io/redirect/oauth"
        if my_home_assistant
        else f"{ha_url}/auth/external/callback"
    ]
    # Home Assistant's authorize page accepts this client and redirect (what the login page checks first).
    from homeassistant.components.auth.indieauth import verify_redirect_uri

    assert await verify_redirect_uri(hass, query["client_id"][0], query["redirect_uri"][0])

    # The person logs in on Home Assistant's page; Home Assistant redirects back with a code.
    code = create_auth_code(hass, query["client_id"][0], hass_admin_credential)
    callback = await (await hass_client_no_auth()).get(
        "/auth/external/callback", params={"code": code, "state": query["state"][0]}
    )
    assert callback.status == 200, await callback.text()
    await hass.async_block_till_done()
    response = await client.post(f"/api/config/config_entries/flow/{flow['flow_id']}", headers=frontend)
    done = await response.json()
    assert done["type"] == "create_entry", done
    entry = hass.config_entries.async_get_entry(done["result"]["entry_id"])
    assert entry is not None and entry.title == "eaio"
    # Home Assistant's access token, which the add-on accepted after asking Home Assistant.
    assert entry.data["token"]["access_token"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # EAIO's tools, as Home Assistant's assistants see them; one of them called through the add-on.
    context = llm.LLMContext(
        platform="test", context=Context(), language="en", assistant="conversation", device_id=None
    )
    api = await llm.async_get_api(hass, f"mcp-{entry.entry_id}", context)
    names = {tool.name for tool in api.tools}
    assert {"energy_status", "modbus_list_points", "bacnet_read_points"} <= names, names
    status = await api.async_call_tool(llm.ToolInput("energy_status", {}))
    assert "open_recommendations" in str(status), status
