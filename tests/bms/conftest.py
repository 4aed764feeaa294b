"""The protocol layer talks to a real server on loopback."""

import pytest

from .fault_modbus import fault_device  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _loopback(socket_enabled: None) -> None:
    """Allow sockets (the Home Assistant test plugin blocks them by default)."""
