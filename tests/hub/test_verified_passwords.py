"""The memory of admin passwords that passed scrypt: bound to the stored hash, expiring, small."""

from __future__ import annotations

from hub.auth.limiter import VerifiedPasswords


def test_a_verified_password_is_known_for_its_hash_until_it_expires() -> None:
    now = [0.0]
    verified = VerifiedPasswords(ttl_s=60.0, size=2, clock=lambda: now[0])
    assert not verified.known("right", "hash-1")
    verified.remember("right", "hash-1")
    assert verified.known("right", "hash-1")
    assert not verified.known("wrong", "hash-1")
    assert not verified.known("right", "hash-2")  # the password changed: its hash did too
    now[0] = 59.0
    assert verified.known("right", "hash-1")  # using it does not extend it
    now[0] = 60.0
    assert not verified.known("right", "hash-1")


def test_it_keeps_only_the_newest_few() -> None:
    verified = VerifiedPasswords(size=2)
    for password in ("one", "two", "three"):
        verified.remember(password, "hash")
    assert not verified.known("one", "hash")
    assert verified.known("two", "hash")
    assert verified.known("three", "hash")
