"""A study's export sent as a download, for the console and the API alike: written
while the client waits (:func:`export_download`), or prepared by a job beforehand, for a
study too large for that (:func:`prepared_download`, :mod:`surveys.prepared_exports`).

The file is written whole into an anonymous temporary file, then sent from it, rather
than streamed to the client as it is made:

- a download either arrives whole or fails with an error status: a failure part-way
  through a streamed zip would reach the client as a truncated file after a 200;
- the response states its length (``Content-Length``: a client shows progress and
  detects a cut connection) and its SHA-256 (``Repr-Digest``, RFC 9530), which only a
  finished file has; the zip itself has each member's checksum in its local header,
  written once the member is complete (a seekable file allows it);
- the database cursor and transaction are released before the first byte is sent,
  so that a slow client never holds a database connection;
- a workbook is a zip that openpyxl finishes by seeking back in the file.

Memory stays flat either way (:mod:`surveys.exports` writes a chunk at a time): the
file is kept in memory up to :data:`IN_MEMORY` bytes (a small study's export), and on
disk past that, which costs disk for one copy of the file while it is sent.  The file
on disk has no name (it is unlinked as it is made), so nothing is left behind even if
the worker dies: it disappears when the response closes it.
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections.abc import Iterable, Iterator
from typing import IO

from flask import Response

from elicit.extensions import db
from elicit.serving import keep_alive
from surveys.exports import open_export, write_export
from surveys.models import PreparedExport, Study
from surveys.prepared_exports import read_chunks

#: Bytes read at a time, to send the file and to compute its digest.
_BLOCK = 1 << 20
#: Bytes of a prepared file sent between two signs of life to the server.
_SLICE = 64 << 10
#: A file up to this size is kept in memory, a larger one moves to disk.
IN_MEMORY = 16 << 20


def export_download(study: Study, format_name: str) -> Response:
    """The export of ``study`` in ``format_name`` (csv, xlsx or json) as an attachment.

    Raises :class:`surveys.exports.TooLargeForSpreadsheet` for a workbook that a
    spreadsheet could not hold, having written nothing.
    """
    # Closed by the response once sent (or here, on an error): no context manager.
    file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115
    try:
        media_type, name = write_export(open_export(db.session, study), format_name, file)
        size = file.tell()
        digest = _sha256(file)
        file.seek(0)
        body: Iterable[bytes] = _Blocks(file)
        if size <= IN_MEMORY:  # sent from memory: nothing to close
            body = [file.read()]
            file.close()
    except BaseException:
        file.close()
        raise
    response = Response(body, mimetype=media_type, direct_passthrough=True)
    response.content_length = size
    response.headers.set("Content-Disposition", "attachment", filename=name)
    response.headers["Repr-Digest"] = f"sha-256=:{base64.b64encode(digest).decode('ascii')}:"
    response.headers["Cache-Control"] = "no-store"
    return response


def prepared_download(export: PreparedExport) -> Response:
    """Ready prepared ``export``'s file as an attachment, with its length and SHA-256,
    read from the database a piece at a time as it is sent (each piece with a connection
    of its own, so a slow client holds none).  After each piece the worker tells the
    server it is alive (:func:`elicit.serving.keep_alive`): a file of gigabytes may take
    a slow client longer than the server's timeout."""
    if not export.size or not export.sha256 or not export.media_type:
        raise ValueError(f"prepared export {export.id} is not ready")
    chunks = read_chunks(db.engine, export.id, export.size)

    def body() -> Iterator[bytes]:
        for block in chunks:
            # A slice at a time: the worker waits for the client to take each, so only
            # a client slower than a slice per timeout (0.5 kB/s) outlasts it.
            for start in range(0, len(block), _SLICE):
                yield block[start : start + _SLICE]
                keep_alive()

    response = Response(body(), mimetype=export.media_type, direct_passthrough=True)
    response.content_length = export.size
    response.headers.set("Content-Disposition", "attachment", filename=export.filename)
    digest = base64.b64encode(bytes.fromhex(export.sha256)).decode("ascii")
    response.headers["Repr-Digest"] = f"sha-256=:{digest}:"
    response.headers["Cache-Control"] = "no-store"
    return response


class _Blocks:
    """A response body read from ``file`` a block at a time, which closes the file
    when read to its end, or when the server closes the response (a client gone
    part-way), whichever comes first."""

    def __init__(self, file: IO[bytes]) -> None:
        self.file = file

    def __iter__(self) -> Iterator[bytes]:
        while block := self.file.read(_BLOCK):
            yield block
        self.file.close()

    def close(self) -> None:
        """Called by the WSGI server when the response ends, sent or not."""
        self.file.close()


def _sha256(file: IO[bytes]) -> bytes:
    """The SHA-256 of the whole of ``file``, read from its start."""
    file.seek(0)
    hashed = hashlib.sha256()
    while block := file.read(_BLOCK):
        hashed.update(block)
    return hashed.digest()
