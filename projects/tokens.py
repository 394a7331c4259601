"""Secrets handed to people once and stored only as their hash: personal API tokens and public
dashboard links (a value carries 256 random bits, so one SHA-256 is enough: nothing to guess)."""

import hashlib


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()
