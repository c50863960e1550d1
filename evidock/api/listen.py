"""Where the HTTP API listens (kept apart from the server so the CLI loads no web stack to parse options)."""

from __future__ import annotations

from dataclasses import dataclass

LOCALHOST = "127.0.0.1"


@dataclass(frozen=True)
class Listen:
    host: str = LOCALHOST
    port: int = 8080
