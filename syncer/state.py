"""Read what the server has, for one manifest: functions, their variables, and the code each one runs.

The code hash of an active deployment comes from the archive itself, so detection works from a fresh clone on
a fresh machine: fnsync's archives carry `fnsync-<hash>.tar` in their gzip header, read with one ranged
download of the first bytes; archives made by other tools are downloaded whole and hashed like local code.
`HashCache` only saves those downloads (deployments never change once uploaded); nothing depends on it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from syncer.client.capabilities import Capabilities
from syncer.client.errors import AppwriteResponseError, RateLimit
from syncer.client.models import NEWER_FUNCTION_FIELDS, Function, Runtime, Specification
from syncer.client.version import MINIMUM_VERSION
from syncer.reserved import is_reserved
from syncer.tasks import gather_or_cancel
from syncer.manifest.models import Manifest
from syncer.packaging import archive_code_hash, code_hash_from_header

if TYPE_CHECKING:
    from syncer.client import AppwriteClient

# Appwrite >= 1.6.1's default specification (what `import` leaves out of a manifest).
DEFAULT_SPECIFICATION = "s-1vcpu-512mb"
OLDEST_CAPABILITIES = Capabilities.negotiate(MINIMUM_VERSION)
HEADER_BYTES = 128  # fnsync's gzip header is 86 bytes: 10 fixed + "fnsync-<64 hex>.tar\0"

HashSource = Literal["header", "archive", "cache", "unknown"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActiveCode(Frozen):
    """The deployment a function runs now and the code hash of its archive (None when it cannot be known)."""

    deployment_id: str
    code_hash: str | None
    source: HashSource

    def describe(self) -> dict[str, Any]:
        return {"deployment": self.deployment_id, "code_hash": self.code_hash, "hash_source": self.source}


class RemoteFunction(Frozen):
    function: Function
    active: ActiveCode | None = None  # only read for managed functions with code

    def digest(self) -> str:
        """A stable hash of everything the planner looks at; variable values enter only as hashes."""
        fn = self.function
        data = fn.model_dump(mode="json", exclude={"created_at", "updated_at", "vars", "version", *NEWER_FUNCTION_FIELDS})
        # A secret's value reads back empty: its last write time stands in for it.
        data["vars"] = sorted((v.key, f"secret@{v.updated_at}" if v.secret else _sha(v.value)) for v in fn.vars)
        data["code_hash"] = self.active.code_hash if self.active else None
        return _sha(json.dumps(data, sort_keys=True))


class ServerState(Frozen):
    """Everything on the server the planner needs; `functions` holds all of them, managed or not.

    `capabilities` is what the client negotiated with the server: which settings exist, secret variables, …
    `creation_limit` is the function-creation allowance left, when the plan creates functions and the server
    tells it (see `syncer.apply.make_plan`).
    """

    functions: dict[str, RemoteFunction] = {}
    runtimes: tuple[Runtime, ...] = ()
    specifications: tuple[Specification, ...] = ()
    capabilities: Capabilities = OLDEST_CAPABILITIES
    creation_limit: RateLimit | None = None

    @property
    def server_version(self) -> str:
        return str(self.capabilities.server)

    @property
    def secret_variables(self) -> bool:
        """Sensitive values become secret variables (see plan)."""
        return self.capabilities.secret_variables

    @property
    def default_specification(self) -> str:
        slugs = [spec.slug for spec in self.specifications]
        if DEFAULT_SPECIFICATION in slugs or not slugs:
            return DEFAULT_SPECIFICATION
        return slugs[0]

    def function_digests(self) -> dict[str, str]:
        return {fid: remote.digest() for fid, remote in self.functions.items()}

    def fingerprint(self) -> str:
        """One hash for the whole state: a saved plan is stale when this differs."""
        return _sha(json.dumps(self.function_digests(), sort_keys=True))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class HashCache:
    """deployment -> code hash, in a small JSON file, scoped by endpoint and project. An optimisation only."""

    def __init__(self, path: Path, scope: str) -> None:
        self.path = path
        self.scope = scope
        try:
            self._data: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._data = {}
        self._dirty = False

    def _key(self, function_id: str, deployment_id: str) -> str:
        return f"{self.scope}|{function_id}|{deployment_id}"

    def get(self, function_id: str, deployment_id: str) -> str | None:
        value = self._data.get(self._key(function_id, deployment_id))
        return value if isinstance(value, str) else None

    def put(self, function_id: str, deployment_id: str, code_hash: str) -> None:
        self._data[self._key(function_id, deployment_id)] = code_hash
        self._dirty = True

    def save(self) -> None:
        """Best effort: a cache that cannot be written is simply not used next time."""
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self._data, sort_keys=True))
            tmp.replace(self.path)
            self._dirty = False
        except OSError:
            pass


async def read_state(
    client: AppwriteClient,
    manifest: Manifest,
    *,
    targets: Iterable[str] = (),
    concurrency: int = 8,
    cache: HashCache | None = None,
) -> ServerState:
    """Read every function (paged) plus runtimes and specifications; code hashes for the managed ones with code.

    fnsync's own reserved functions (the apply lock) are left out: no plan, prune or unmanaged list may see them.
    The capabilities are negotiated first: that refuses servers older than 1.6 and decides every call's format.
    """
    capabilities = await client.capabilities()
    listed, runtimes, specifications = await gather_or_cancel(
        client.list_functions(), client.list_runtimes(), client.list_specifications()
    )
    functions = [fn for fn in listed if not is_reserved(fn.id)]
    wanted = set(targets)
    limit = asyncio.Semaphore(max(1, concurrency))

    async def active_code(fn: Function) -> ActiveCode | None:
        spec = manifest.functions.get(fn.id)
        if not fn.deployment or spec is None or spec.path is None or (wanted and fn.id not in wanted):
            return None
        async with limit:
            return await read_active_code(client, fn, cache)

    actives = await gather_or_cancel(*(active_code(fn) for fn in functions))
    if cache is not None:
        cache.save()
    return ServerState(
        functions={fn.id: RemoteFunction(function=fn, active=active) for fn, active in zip(functions, actives)},
        runtimes=tuple(runtimes),
        specifications=tuple(specifications),
        capabilities=capabilities,
    )


async def read_active_code(client: AppwriteClient, fn: Function, cache: HashCache | None = None) -> ActiveCode:
    """The active deployment's code hash: cache, else the archive's gzip header, else the whole archive."""
    did = fn.deployment
    if cache is not None and (cached := cache.get(fn.id, did)):
        return ActiveCode(deployment_id=did, code_hash=cached, source="cache")
    try:
        code_hash = await header_hash(client, fn.id, did)
        source: HashSource = "header"
        if code_hash is None:
            code_hash = await _hash_whole_archive(client, fn)
            source = "archive"
    except AppwriteResponseError as exc:
        if exc.status in (404, 416):  # archive gone or empty: unknown code, so the planner redeploys
            return ActiveCode(deployment_id=did, code_hash=None, source="unknown")
        raise
    if code_hash is None:
        return ActiveCode(deployment_id=did, code_hash=None, source="unknown")
    if cache is not None:
        cache.put(fn.id, did, code_hash)
    return ActiveCode(deployment_id=did, code_hash=code_hash, source=source)


async def header_hash(client: AppwriteClient, function_id: str, deployment_id: str) -> str | None:
    """fnsync's code hash from one ranged download of an archive's first bytes; None for other archives.

    An archive shorter than the probe is not one of ours (Appwrite refuses ranges past the end with 416);
    any other error is raised.
    """
    try:
        head = await client.download_deployment(function_id, deployment_id, byte_range=(0, HEADER_BYTES - 1))
    except AppwriteResponseError as exc:
        if exc.status != 416:
            raise
        return None
    return code_hash_from_header(head)


async def _hash_whole_archive(client: AppwriteClient, fn: Function) -> str | None:
    """Fallback for archives not made by fnsync: download and hash their contents like local code."""
    deployment = await client.get_deployment(fn.id, fn.deployment)
    with tempfile.TemporaryDirectory(prefix="fnsync-dl-") as tmp:
        archive = Path(tmp) / "code.tar.gz"
        await client.download_deployment_to(fn.id, fn.deployment, archive)
        try:
            return archive_code_hash(
                archive, entrypoint=deployment.entrypoint or fn.entrypoint, commands=fn.commands, runtime=fn.runtime
            )
        except Exception:  # noqa: BLE001 - an unreadable archive means "unknown code", which redeploys
            return None
