"""The record that lets fnsync plan secret variables it can no longer read (Appwrite 1.7+), and label old values.

A secret variable's value comes back empty, so the planner cannot compare it with the manifest. For each function
with secret variables, fnsync keeps one ordinary (non-secret) variable, `FNSYNC_SECRET_DIGESTS`, holding a random
salt and a slow salted digest (PBKDF2-SHA256) of each secret's value:

    {"digests":{"TOKEN":"5f0c…"},"fnsync":1,"salt":"9a41…"}

A secret is unchanged when the digest of the manifest's value matches the recorded one and the variable was not
written after the record (its `$updatedAt` is not later): apply writes the record after the secrets it covers.
See docs/plan-apply.md "Secret variables" for the limits.

Appwrite 1.6 has no secret variables (values read back) and no flag saying which were sensitive, so there the same
variable holds only the keys fnsync applied as sensitive (no salt, no digests: nothing needs a digest there):

    {"fnsync":1,"sensitive":["TOKEN"]}

The planner then shows the old value of a variable it applied as plain and hides the others.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, ValidationError

from syncer.client.models import Variable

RECORD_KEY = "FNSYNC_SECRET_DIGESTS"
RECORD_FORMAT = 1
ITERATIONS = 100_000  # ~60 ms per value: cheap for a plan, slow for guessing low-entropy secrets offline
DIGEST_CHARS = 32  # 128 bits; keeps the record small (a variable value holds at most 8192 chars)
MAX_RECORD_CHARS = 8192


class DigestRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    salt: str = ""  # with `digests`: servers with secret variables
    digests: dict[str, str] = {}
    sensitive: tuple[str, ...] = ()  # servers without them: the keys applied as sensitive

    @classmethod
    def parse(cls, value: str) -> DigestRecord | None:
        """The record in a variable value, or None when it is not one of ours (then every secret counts as changed)."""
        try:
            data = json.loads(value)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("fnsync") != RECORD_FORMAT:
            return None
        try:
            record = cls.model_validate(data)
        except ValidationError:
            return None
        return record if record.salt or record.sensitive else None

    def to_value(self) -> str:
        """Canonical JSON (sorted, compact), so an unchanged record compares equal to what the server holds."""
        data: dict[str, object] = {"fnsync": RECORD_FORMAT}
        if self.salt:
            data |= {"salt": self.salt, "digests": dict(sorted(self.digests.items()))}
        if self.sensitive:
            data["sensitive"] = sorted(self.sensitive)
        return json.dumps(data, sort_keys=True, separators=(",", ":"))


def new_salt() -> str:
    return secrets.token_hex(16)


@lru_cache(maxsize=4096)
def digest(salt: str, key: str, value: str) -> str:
    """Salted slow digest of one value; the key is mixed in so equal values under two keys differ."""
    material = f"{salt}\0{key}".encode()
    return hashlib.pbkdf2_hmac("sha256", value.encode(), material, ITERATIONS).hex()[:DIGEST_CHARS]


def written_after(variable_updated_at: str, record_updated_at: str) -> bool:
    """True when a variable was written after the record (someone changed the secret outside fnsync)."""
    try:
        return datetime.fromisoformat(variable_updated_at) > datetime.fromisoformat(record_updated_at)
    except ValueError:
        return False


@dataclass(frozen=True)
class Sensitivity:
    """What fnsync knows about which old values of a function were sensitive, when the server cannot say (1.6)."""

    record: DigestRecord | None  # the function's record; on 1.6 it lists the keys fnsync last applied as sensitive
    function_sensitive: bool  # the manifest marks some variable of this function sensitive (this one, say)
    secret_values: frozenset[str]  # every value the manifest marks sensitive


def was_sensitive(server: Variable, secret_mode: bool, known: Sensitivity | None = None) -> bool | None:
    """Whether the value on the server is sensitive, as far as fnsync can know: the old side of an update is labelled
    with what the old value was, never with the manifest's new sensitivity.

    Appwrite 1.7+ says so itself (`secret`; a secret reads back empty anyway). Appwrite 1.6 has no such flag; there
    the function's record lists the keys fnsync applied as sensitive (listed: True, not listed: False). A value that
    is one of the manifest's sensitive values is sensitive wherever it sits. With no record, fnsync has never applied
    a sensitive variable to the function, unless it is about to (the manifest marks one sensitive) or an older fnsync
    (no record on 1.6) did: then None, hidden and labelled as unknown; otherwise False.
    """
    if server.secret:
        return True
    if secret_mode:
        return False
    if known is None:
        return None
    if known.record is not None and server.key in known.record.sensitive:
        return True
    if server.value in known.secret_values:
        return True
    if known.record is not None:
        return False
    return None if known.function_sensitive else False
