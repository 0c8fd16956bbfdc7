"""Real database outages for tests: the database becomes unreachable, then comes back.

- PostgreSQL: the app connects through :class:`TcpRelay`, a relay on a local port in
  front of the real server.  Cutting it closes every open connection and refuses new
  ones, as a crashed or restarting server does; restoring it lets connections through
  again.  Nothing in the app is patched: it sees real socket errors from psycopg.
- SQLite: another connection holds the database's write lock (``BEGIN EXCLUSIVE``),
  as a long write by another process does; the app's writes wait for their busy
  timeout and then fail with "database is locked".
"""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy.engine import make_url


class TcpRelay:
    """Forward connections from a free local port to ``(host, port)`` until cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for end in (source, sink):
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        """Close every relayed connection and refuse new ones."""
        self.up = False
        with self.lock:
            for end in self.sockets:
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()
            self.sockets.clear()

    def restore(self) -> None:
        """Let new connections through again."""
        self.up = True

    def close(self) -> None:
        """Stop relaying for good."""
        self.cut()
        self.listener.close()


class Outage:
    """Make the database at ``url`` unreachable for an app (see the module docstring).

    ``app_url`` is the URL the app must use: through the relay for PostgreSQL, the
    same file for SQLite.
    """

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.relay: TcpRelay | None = None
        self.holder: sqlite3.Connection | None = None
        if self.url.get_backend_name() == "postgresql":
            self.relay = TcpRelay(self.url.host or "127.0.0.1", self.url.port or 5432)
            self.app_url = self.url.set(host="127.0.0.1", port=self.relay.port).render_as_string(
                hide_password=False
            )
        else:
            self.app_url = url

    def begin(self) -> None:
        """The database goes away."""
        if self.relay is not None:
            self.relay.cut()
        else:
            assert self.url.database
            self.holder = sqlite3.connect(self.url.database, isolation_level=None)
            self.holder.execute("BEGIN EXCLUSIVE")

    def end(self) -> None:
        """The database is back."""
        if self.relay is not None:
            self.relay.restore()
        elif self.holder is not None:
            self.holder.execute("ROLLBACK")
            self.holder.close()
            self.holder = None

    def close(self) -> None:
        """Release everything."""
        self.end()
        if self.relay is not None:
            self.relay.close()


@contextmanager
def outage_for(url: str) -> Iterator[Outage]:
    """An :class:`Outage` of the database at ``url``, released at the end."""
    outage = Outage(url)
    try:
        yield outage
    finally:
        outage.close()
