"""The protocol layer talks to a real server on loopback."""

import pytest


@pytest.fixture(autouse=True)
def _loopback(socket_enabled: None) -> None:
    """Allow sockets (the Home Assistant test plugin blocks them by default)."""
