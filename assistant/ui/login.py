"""Failed sign-ins slow down per client address; other addresses sign in as before.

After FREE_FAILURES sign-ins in a row from one address without a correct password, Gradio's
`POST /login` answers that address 429 without checking anything, first for FIRST_WAIT_S, then twice
as long after each further failure, up to MAX_WAIT_S. A correct password resets the address. Behind a
reverse proxy every client has the proxy's address, so they share one count.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FREE_FAILURES = 5
FIRST_WAIT_S = 1.0
MAX_WAIT_S = 300.0
MAX_TRACKED = 10_000  # addresses remembered; the oldest is forgotten first

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


@dataclass
class Attempts:
    count: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    """ASGI middleware around Gradio's login route (for `launch(app_kwargs={"middleware": [...]})`)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Any], clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.clock = clock
        self.attempts: dict[str, Attempts] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/login":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.wait(client)
        if wait > 0:
            await refuse(send, wait)
            return
        # Counted before the password is checked, so that attempts sent at once cannot all slip through.
        self.attempt(client)
        status = 0

        async def remember_status(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, remember_status)
        if status == 200:
            self.attempts.pop(client, None)

    def wait(self, client: str) -> float:
        record = self.attempts.get(client)
        return max(0.0, record.locked_until - self.clock()) if record else 0.0

    def attempt(self, client: str) -> None:
        record = self.attempts.pop(client, None) or Attempts()
        self.attempts[client] = record  # re-inserted: the dict's order is the order of last attempt
        record.count += 1
        if record.count >= FREE_FAILURES:
            delay = min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** min(record.count - FREE_FAILURES, 30))
            record.locked_until = self.clock() + delay
        if len(self.attempts) > MAX_TRACKED:
            del self.attempts[next(iter(self.attempts))]


async def refuse(send: Send, wait: float) -> None:
    seconds = math.ceil(wait)
    body = json.dumps(
        {"detail": f"too many failed sign-ins from this address; wait {seconds} s, then try again"}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"retry-after", str(seconds).encode())]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
