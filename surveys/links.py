"""The keys that seal personal links, so that a link can be sent again and again while
the database alone opens none.

A panelist's link is looked up by the SHA-256 of its token (``Panelist.token_hash``),
which cannot be turned back into the link.  To send the same link with every
invitation, reminder and round, the token is also kept *sealed*
(``Panelist.token_sealed``): encrypted and authenticated with Fernet (AES-128-CBC and
HMAC-SHA256, from the ``cryptography`` package) under a key that is never written to
the database.  A copy of the database (a backup, a dump, a stolen disk) therefore opens
no expert's page; whoever holds both the copy and the key can, exactly as whoever holds
the session-signing key can act as anyone already logged in.

The key is either derived from the secret key (HKDF-SHA256, so that a fresh install
needs no setting of its own) or given as a list of Fernet keys, newest first:
:class:`LinkKeys` seals with the newest and opens with any, so that a key can be
rotated without a moment in which links cannot be read (see the README's Security
section for the steps).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from surveys.errors import DomainError

#: HKDF's "info": the purpose the derived key is bound to, so that the same secret key
#: never yields this key for anything else.
DERIVATION_CONTEXT = b"elicit personal links v1"


class InvalidLinkKeys(ValueError):
    """A list of link keys that cannot be used (empty, or an entry that is not a Fernet
    key).  The message names the entry by position, never its value."""


class UnreadableLink(DomainError):
    """A panelist's stored link cannot be opened with the configured keys (the key it
    was sealed with is no longer configured), or none is stored.  The remedy is to
    restore that key, or to issue the panelist a new link."""


def derived_key(secret: str) -> str:
    """The Fernet key derived from ``secret`` (the service's secret key) by HKDF-SHA256.

    No salt: the secret key is already a uniformly random value (a generated one has
    256 bits), and the derivation must give every worker and host the same key.
    """
    material = HKDF(algorithm=SHA256(), length=32, salt=None, info=DERIVATION_CONTEXT).derive(
        secret.encode()
    )
    return base64.urlsafe_b64encode(material).decode()


def new_key() -> str:
    """A new random Fernet key (for ``ELICIT_LINK_KEYS``)."""
    return Fernet.generate_key().decode()


class LinkKeys:
    """Seals tokens with the newest key; opens them with any of the keys.

    Keys are Fernet keys (32 bytes in URL-safe base64), newest first.
    """

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise InvalidLinkKeys("at least one key is needed")
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode()))
            except ValueError:
                raise InvalidLinkKeys(
                    f"key {position} is not a Fernet key (32 bytes in URL-safe base64)"
                ) from None
        self._keys = MultiFernet(fernets)
        self.count = len(fernets)

    @classmethod
    def derived_from(cls, secret: str) -> LinkKeys:
        """The single key derived from the service's secret key."""
        return cls([derived_key(secret)])

    @classmethod
    def from_setting(cls, setting: str) -> LinkKeys:
        """Keys from a comma-separated list, newest first (``ELICIT_LINK_KEYS``)."""
        return cls([key for key in setting.split(",") if key.strip()])

    def seal(self, token: str) -> str:
        """``token`` encrypted and authenticated with the newest key."""
        return self._keys.encrypt(token.encode()).decode()

    def unseal(self, sealed: str) -> str | None:
        """The token sealed in ``sealed``; ``None`` when no configured key opens it
        (or it was altered)."""
        try:
            return self._keys.decrypt(sealed.encode()).decode()
        except (InvalidToken, UnicodeError):
            return None

    def reseal(self, sealed: str) -> str | None:
        """``sealed`` sealed again with the newest key; ``None`` when no key opens it."""
        try:
            return self._keys.rotate(sealed.encode()).decode()
        except InvalidToken:
            return None
