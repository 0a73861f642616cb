"""The API token: made once, kept beside the database (0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from platformdirs import user_data_dir


def token_path(db: str) -> Path:
    """`<db>.token` for a SQLite file; for Redis or :memory:, a file in the user data folder."""
    if db == ":memory:" or "://" in db:
        return Path(user_data_dir("tuiqueue")) / "serve.token"
    return Path(db).expanduser().with_name(Path(db).name + ".token")


def load_token(path: Path) -> tuple[str, bool]:
    """The token stored at path, or a new one written there; (token, whether it is new)."""
    try:
        text = path.read_text(encoding="ascii").strip()
        if text:
            return text, False
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(token + "\n")
    os.chmod(path, 0o600)
    return token, True
