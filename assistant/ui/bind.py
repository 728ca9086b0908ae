"""Where `assistant serve` may listen: loopback by default; any other address needs a login or --no-auth."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from assistant.core.errors import ConfigError


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def parse_auth(auth: str | None) -> tuple[str, str] | None:
    if auth is None:
        return None
    user, sep, password = auth.partition(":")
    if not sep or not user or not password:
        raise ConfigError("--auth must be USER:PASS with both parts non-empty (e.g. --auth admin:s3cret)")
    return user, password


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port; pass one from 1 to 65535 (e.g. --port 7860)")


def check_bind(host: str, auth: str | None, no_auth: bool, warn: Callable[[str], None]) -> tuple[str, str] | None:
    """The credentials to require; refuses a non-loopback address without --auth unless --no-auth."""
    credentials = parse_auth(auth)
    if credentials is None and not is_loopback(host):
        if not no_auth:
            raise ConfigError(
                f"refusing to serve on {host} without a login; pass --auth USER:PASS "
                "(or --no-auth to expose it to everyone who can reach this address)"
            )
        warn(f"serving on {host} WITHOUT a login: anyone who can reach it can read and change the corpus")
    return credentials
