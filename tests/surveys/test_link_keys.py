"""The keys that seal personal links (:mod:`surveys.links`): what one key seals, only
the keys that include it open; a list of keys seals with its first; a malformed key is
named by position, never quoted."""

from __future__ import annotations

import pytest

from surveys.links import InvalidLinkKeys, LinkKeys, derived_key, new_key

TOKEN = "qhyuY1FNVuiwPTCENijW_-UjOQmICECqFbHs-LPM_HU"  # as secrets.token_urlsafe(32) makes


def test_a_sealed_token_opens_with_its_key_only_and_holds_no_trace_of_the_token():
    key = LinkKeys([new_key()])
    sealed = key.seal(TOKEN)
    assert TOKEN not in sealed and sealed != key.seal(TOKEN)  # a fresh IV each time
    assert len(sealed) <= 255  # the column's size
    assert key.unseal(sealed) == TOKEN
    assert LinkKeys([new_key()]).unseal(sealed) is None


def test_an_altered_or_malformed_seal_opens_to_nothing():
    key = LinkKeys([new_key()])
    sealed = key.seal(TOKEN)
    flipped = sealed[:-5] + ("A" if sealed[-5] != "A" else "B") + sealed[-4:]
    for broken in (flipped, sealed[:-1], "", "not a seal at all", "é" * 10):
        assert key.unseal(broken) is None
        assert key.reseal(broken) is None


def test_a_list_seals_with_its_first_key_and_opens_with_any():
    old, new = new_key(), new_key()
    under_old = LinkKeys([old]).seal(TOKEN)
    both = LinkKeys.from_setting(f" {new} ,{old},")  # spaces and a trailing comma
    assert both.count == 2
    assert both.unseal(under_old) == TOKEN
    assert LinkKeys([new]).unseal(both.seal(TOKEN)) == TOKEN
    resealed = both.reseal(under_old)
    assert resealed is not None
    assert LinkKeys([new]).unseal(resealed) == TOKEN
    assert LinkKeys([old]).unseal(resealed) is None


def test_the_derived_key_is_fixed_by_the_secret_and_differs_between_secrets():
    assert derived_key("one secret") == derived_key("one secret")
    assert derived_key("one secret") != derived_key("another secret")
    sealed = LinkKeys.derived_from("one secret").seal(TOKEN)
    assert LinkKeys([derived_key("one secret")]).unseal(sealed) == TOKEN
    assert LinkKeys.derived_from("another secret").unseal(sealed) is None


def test_bad_key_lists_are_refused_by_position_without_quoting_the_key():
    with pytest.raises(InvalidLinkKeys, match="at least one key"):
        LinkKeys.from_setting(" , ")
    secret_looking = "my-password-is-not-a-key"
    with pytest.raises(InvalidLinkKeys, match="key 2 is not a Fernet key") as caught:
        LinkKeys([new_key(), secret_looking])
    assert secret_looking not in str(caught.value)
