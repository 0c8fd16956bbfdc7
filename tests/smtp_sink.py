"""A real SMTP server in the test process (aiosmtpd), which keeps what it accepts and
can be told to refuse a recipient, to answer a temporary failure, or to hold one
transaction until the test lets it go (to kill a worker in the middle of a send)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


class SinkHandler:
    """aiosmtpd's handler: keeps each accepted message with its envelope recipients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[list[str], EmailMessage]] = []
        #: Address → the reply to its RCPT ("550 5.1.1 no such user", "451 4.7.1 later").
        self.rcpt_replies: dict[str, str] = {}
        #: A reply to every DATA instead of accepting it ("554 5.7.1 rejected").
        self.data_reply: str | None = None
        #: Hold the RCPT of the message that would be the ``hold_at``-th accepted one.
        self.hold_at: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()
        self.rcpt_count = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        """Refuse, hold, or accept one recipient."""
        with self.lock:
            self.rcpt_count += 1
            hold = self.hold_at is not None and len(self.received) + 1 == self.hold_at
        if hold and not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 60)
            return "451 4.3.0 held by the test"
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """Accept the message and keep it (or answer ``data_reply``)."""
        if self.data_reply is not None:
            return self.data_reply
        email = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), email))  # type: ignore[arg-type]
        return "250 2.0.0 OK: queued"

    def recipients(self) -> list[str]:
        """Every recipient of every accepted message, in order."""
        with self.lock:
            return [address for addresses, _ in self.received for address in addresses]


def free_port() -> int:
    """A local TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[tuple[SinkHandler, int]]:
    """A running sink on a free local port: its handler and port."""
    handler = SinkHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        handler.release.set()
        controller.stop()
