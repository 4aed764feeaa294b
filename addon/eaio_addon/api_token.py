"""The token that guards the add-on's HTTP API: made on the first start, kept in the data directory."""

from __future__ import annotations

from collections.abc import Callable
import os
from pathlib import Path
import secrets
import time

TOKEN_FILE = "api_token"


def load_or_create_api_token(data_dir: Path) -> tuple[str, bool]:
    """The API token and whether it was just made. The file is readable by its owner only (0600)."""
    path = data_dir / TOKEN_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: two starts racing cannot both write a token; the loser reads the winner's.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        token = path.read_text(encoding="utf-8").strip()
        if len(token) < 32:
            raise ValueError(f"{path} holds no valid token; delete it to make a new one") from None
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # someone loosened it; the token grants the API
        return token, False
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    return token, True


class Sessions:
    """Browser sessions opened with the token on the login form; kept in memory, so a restart signs out."""

    def __init__(self, ttl: float = 12 * 3600.0, *, limit: int = 100, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._limit = limit
        self._clock = clock
        self._expires: dict[str, float] = {}

    def open(self) -> str:
        now = self._clock()
        self._expires = {sid: at for sid, at in self._expires.items() if at > now}
        while len(self._expires) >= self._limit:  # many logins: the oldest session goes
            del self._expires[min(self._expires, key=self._expires.__getitem__)]
        sid = secrets.token_urlsafe(32)
        self._expires[sid] = now + self.ttl
        return sid

    def valid(self, sid: str | None) -> bool:
        if not sid:
            return False
        at = self._expires.get(sid)
        if at is None:
            return False
        if at <= self._clock():
            del self._expires[sid]
            return False
        return True
