"""The token that guards the add-on's HTTP API: made on the first start, kept in the data directory."""

from __future__ import annotations

import os
from pathlib import Path
import secrets

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
