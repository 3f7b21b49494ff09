"""Secrets at rest: the Fernet key (env or a 0600 key file) and the column type that stores values encrypted.

The key is `COSTPLANE_SECRET_KEY` (a Fernet key: 32 url-safe base64 bytes) or, without it, the file
`<COSTPLANE_HOME>/secret.key`, created with mode 0600 the first time a secret is written. Values are
stored as `fernet:<token>`; a legacy plaintext value (written before encryption existed) reads back
as is and is encrypted on its next write (migration 0002 encrypts those already stored).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

from costplane.core.errors import StoreError

SECRET_KEY_ENV = "COSTPLANE_SECRET_KEY"
KEY_FILE = "secret.key"
PREFIX = "fernet:"
_lock = threading.Lock()
_cache: dict[str, object] = {}


def key_path() -> Path:
    from costplane.store._engine import data_dir

    return data_dir() / KEY_FILE


def _load_key() -> bytes:
    env = os.environ.get(SECRET_KEY_ENV)
    if env:
        return env.strip().encode()
    path = key_path()
    if path.is_file():
        return path.read_bytes().strip()
    from cryptography.fernet import Fernet

    key = Fernet.generate_key()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_bytes().strip()
    except OSError as exc:
        raise StoreError(f"cannot create the secret key file {path}: {exc.strerror}",
                         fix=f"set {SECRET_KEY_ENV} or make COSTPLANE_HOME writable") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def fernet():
    """The Fernet of the current key (cached per key source)."""
    from cryptography.fernet import Fernet

    source = os.environ.get(SECRET_KEY_ENV) or str(key_path())
    with _lock:
        f = _cache.get(source)
        if f is None:
            try:
                f = Fernet(_load_key())
            except ValueError:
                raise StoreError("the secret key is not a Fernet key (32 url-safe base64-encoded bytes)",
                                 fix="generate one with `python -c 'from cryptography.fernet import Fernet; "
                                     "print(Fernet.generate_key().decode())'`") from None
            _cache[source] = f
    return f


def encrypt(value: str) -> str:
    return PREFIX + fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored  # legacy plaintext
    from cryptography.fernet import InvalidToken

    try:
        return fernet().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        raise StoreError("a stored secret cannot be decrypted with the current key",
                         fix=f"use the {SECRET_KEY_ENV} or {KEY_FILE} the secret was written with") from None


class EncryptedText(TypeDecorator):
    """Text stored Fernet-encrypted; Python sees plaintext. SQL parameters and logs only ever hold ciphertext."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else encrypt(str(value))

    def process_result_value(self, value, dialect):
        return None if value is None else decrypt(value)
