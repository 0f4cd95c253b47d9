"""`AppwriteClient`: the one place fnsync speaks HTTP to Appwrite (Functions API, every version from 1.6 to 2.5).

One pooled `httpx.AsyncClient` underneath; every request goes through `_call`, which adds auth and the response
format, retries (`retry.Retrier`), counts what was sent (`stats`) and maps failures onto `syncer.client.errors`.

Server versions (NEWER-SERVERS.md §11): the first request negotiates once (`GET /v1/health/version`, keyless) and
builds one `Capabilities`; every request then speaks the server's own format, and each call asks the
capabilities which path, parameter or shape to use. No call compares version strings.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from syncer.client.errors import (
    AppwriteConnectionError,
    RateLimit,
    AppwriteProtocolError,
    AppwriteResponseError,
    BuildWaitTimeout,
    UnsupportedServerVersion,
    is_already_exists,
    is_not_found,
    scrub,
)
from syncer.client.capabilities import Capabilities
from syncer.client.models import (
    FUNCTION_SETTING_KEYS,
    Build,
    Deployment,
    Execution,
    Function,
    FunctionSettings,
    Runtime,
    Specification,
    UploadProgress,
    Variable,
)
from syncer.client.query import Query, has_paging, query_attribute
from syncer.client.retry import NOT_SENT_ERRORS, Clock, Retrier, RetryPolicy, Safety, Sleep
from syncer.client.upload import CHUNK_SIZE, FileSlice, chunk_ranges
from syncer.client.version import MINIMUM_VERSION, ServerVersion

logger = logging.getLogger("syncer.client")

M = TypeVar("M", bound=BaseModel)

FORMAT_HEADER = "X-Appwrite-Response-Format"
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
DEFAULT_LIMITS = httpx.Limits(max_connections=16, max_keepalive_connections=8)
PAGE_SIZE = 100
READ_METHODS = frozenset({"GET", "HEAD"})
CREATE_ONLY_KEYS = frozenset({"templateRepository", "templateOwner", "templateRootDirectory", "templateVersion"})
ERROR_BODY_SNIPPET = 200


def _version() -> str:
    try:
        return metadata.version("fnsync")
    except metadata.PackageNotFoundError:
        return "0.0.0"


USER_AGENT = f"fnsync/{_version()}"


@dataclass
class ClientStats:
    """Requests this client sent (every attempt counts; `*_retries` counts the repeats among them).

    `recovered` counts creates/deletes whose retry met the effect of an earlier attempt (409 / 404 after retry).
    """

    reads: int = 0
    writes: int = 0
    read_retries: int = 0
    write_retries: int = 0
    recovered: int = 0
    by_method: Counter[str] = field(default_factory=Counter)

    def record(self, method: str, attempt: int) -> None:
        self.by_method[method] += 1
        if method in READ_METHODS:
            self.reads += 1
            self.read_retries += attempt > 1
        else:
            self.writes += 1
            self.write_retries += attempt > 1

    @property
    def requests(self) -> int:
        return self.reads + self.writes

    def snapshot(self) -> ClientStats:
        return replace(self, by_method=Counter(self.by_method))

    def reset(self) -> None:
        self.reads = self.writes = self.read_retries = self.write_retries = self.recovered = 0
        self.by_method.clear()


def _seg(value: str, what: str) -> str:
    """One path segment. An empty id would silently address the collection instead, so it is refused."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return quote(value, safe="")


def _settings_body(settings: Mapping[str, Any] | BaseModel | None, fields: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
    """Merge a settings model/mapping and keyword fields into a JSON body, dropping `None`s (§1: never send null)."""
    body: dict[str, Any] = {}
    if isinstance(settings, FunctionSettings):
        body.update(settings.to_api())
    elif isinstance(settings, BaseModel):
        body.update(settings.model_dump(by_alias=True, exclude_none=True, mode="json"))
    elif settings is not None:
        body.update(settings)
    body.update(fields)
    body = {k: (list(v) if isinstance(v, tuple) else v) for k, v in body.items() if v is not None}
    allowed = FUNCTION_SETTING_KEYS | (CREATE_ONLY_KEYS if create else frozenset())
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(f"unknown function setting(s): {', '.join(unknown)} (use Appwrite's API field names)")
    required = ("name", "runtime") if create else ("name",)
    missing = [k for k in required if not body.get(k)]
    if missing:
        raise ValueError(f"function setting(s) required: {', '.join(missing)}")
    return body


class AppwriteClient:
    """Async Appwrite Functions client. Use as `async with AppwriteClient(endpoint, project, key) as client:`.

    `transport=` replaces the network (tests pass `httpx.MockTransport` or `httpx.ASGITransport`);
    `sleep`/`clock`/`wall_clock`/`rng` drive retries and polling, so tests never really wait.
    """

    def __init__(
        self,
        endpoint: str,
        project: str,
        api_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        limits: httpx.Limits = DEFAULT_LIMITS,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        rng: Callable[[], float] = random.random,
        page_size: int = PAGE_SIZE,
        chunk_size: int = CHUNK_SIZE,
        secrets: Iterable[str] = (),
        capabilities: Capabilities | None = None,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"endpoint must be an http(s) URL ending in /v1, got {endpoint!r}")
        if not project:
            raise ValueError("project must not be empty")
        self.endpoint = endpoint.rstrip("/")
        self.project = project
        self._api_key = api_key
        self._secrets = tuple(s for s in (api_key, *secrets) if s)
        self._sleep = sleep
        self._clock = clock
        self._retrier = Retrier(policy=retry or RetryPolicy(), sleep=sleep, clock=clock, wall_clock=wall_clock, rng=rng)
        self.page_size = page_size
        self.chunk_size = chunk_size
        self.stats = ClientStats()
        self._capabilities = capabilities  # given: no negotiation (tests, or a caller that already knows)
        self._version_lock = asyncio.Lock()
        self._refused: ServerVersion | None = None  # a server too old: refused on every call, asked once
        self.creation_limit: RateLimit | None = None  # the last X-RateLimit-* seen on a function create
        self._http = httpx.AsyncClient(
            base_url=self.endpoint + "/",
            transport=transport,
            timeout=timeout,
            limits=limits,
            headers={
                "X-Appwrite-Project": project,
                "User-Agent": USER_AGENT,
                "x-sdk-name": "fnsync",
                "x-sdk-version": _version(),
            },
        )
        self._base_path = httpx.URL(self.endpoint).path.rstrip("/")

    def __repr__(self) -> str:
        return f"AppwriteClient(endpoint={self.endpoint!r}, project={self.project!r})"

    async def __aenter__(self) -> AppwriteClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, str]] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        safety: Safety | None = None,
        auth: bool = True,
        stream: bool = False,
        negotiate: bool = True,
    ) -> tuple[httpx.Response, bool]:
        """Send with retries; return (final 2xx response, whether an earlier attempt may have been applied).

        Every request but the version probe itself speaks the negotiated format (`negotiate=False` skips it).
        Raises `AppwriteResponseError` for error answers, `AppwriteConnectionError` when no answer came.
        """
        if safety is None:
            safety = Safety.UNSAFE if method == "POST" else Safety.IDEMPOTENT
        request_headers = dict(headers or {})
        if negotiate:
            request_headers[FORMAT_HEADER] = (await self.capabilities()).response_format
        if auth:
            request_headers["X-Appwrite-Key"] = self._api_key
        request_path = self._base_path + path

        async def send(attempt: int) -> httpx.Response:
            self.stats.record(method, attempt)
            request = self._http.build_request(
                method, path.lstrip("/"), params=params, json=json, data=data, files=files, headers=request_headers
            )
            response = await self._http.send(request, stream=stream)
            if stream and response.is_error:
                await response.aread()
            logger.debug("%s %s -> %d (attempt %d)", method, request_path, response.status_code, attempt)
            return response

        try:
            outcome = await self._retrier.run(send, safety=safety, describe=f"{method} {request_path}")
        except httpx.RequestError as exc:  # transport failures, and undecodable bodies: no usable response
            raise self._connection_error(method, request_path, exc) from (None if self._leaks(exc) else exc)
        response = outcome.response
        if response.is_error:
            raise self._response_error(method, request_path, response, outcome.ambiguous)
        return response, outcome.ambiguous

    def _leaks(self, exc: BaseException) -> bool:
        text = f"{exc!s} {exc!r}"
        return any(secret in text for secret in self._secrets)

    def _connection_error(self, method: str, path: str, exc: httpx.RequestError) -> AppwriteConnectionError:
        detail = scrub(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, self._secrets)
        return AppwriteConnectionError(
            detail,
            request_method=method,
            request_path=path,
            timeout=isinstance(exc, httpx.TimeoutException),
            maybe_applied=not isinstance(exc, NOT_SENT_ERRORS),
        )

    def _response_error(self, method: str, path: str, response: httpx.Response, retried: bool) -> AppwriteResponseError:
        envelope: Any = None
        try:
            envelope = response.json()
        except ValueError:
            pass
        if isinstance(envelope, dict) and "message" in envelope:
            message = str(envelope.get("message", ""))
            type_ = str(envelope.get("type", ""))
            version = str(envelope.get("version", ""))
        else:
            snippet = response.text[:ERROR_BODY_SNIPPET].strip()
            message = f"{response.reason_phrase}" + (f" ({snippet})" if snippet else "")
            type_, version = "", ""
        return AppwriteResponseError(
            status=response.status_code,
            type=scrub(type_, self._secrets),
            message=scrub(message, self._secrets),
            version=version,
            request_method=method,
            request_path=path,
            retried=retried,
            rate_limit=RateLimit.from_headers(response.headers),
        )

    def _parse(self, model: type[M], payload: Any, what: str) -> M:
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise AppwriteProtocolError(scrub(f"unexpected {what} body: {exc}", self._secrets)) from None

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response, _ = await self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise AppwriteProtocolError(f"{method} {self._base_path}{path}: response is not JSON") from None

    async def _list(
        self,
        path: str,
        key: str,
        model: type[M],
        queries: Iterable[str] = (),
        search: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[M]:
        """All items of a list endpoint: limit+cursorAfter pages until a short page, unless the caller paged."""
        queries = list(queries)
        extra = [("search", search)] if search else []  # an empty search is a 400 (§13.10): omit it
        if has_paging(queries):
            payload = await self._json("GET", path, params=[*self._q(queries), *extra], headers=headers)
            return self._items(payload, key, model)
        items: list[M] = []
        cursor: str | None = None
        while True:
            page_queries = [*queries, Query.limit(self.page_size)]
            if cursor is not None:
                page_queries.append(Query.cursor_after(cursor))
            page = self._items(
                await self._json("GET", path, params=[*self._q(page_queries), *extra], headers=headers), key, model
            )
            items.extend(page)
            if len(page) < self.page_size:
                return items
            cursor = getattr(page[-1], "id")

    @staticmethod
    def _q(queries: Iterable[str]) -> list[tuple[str, str]]:
        return [("queries[]", q) for q in queries]

    def _items(self, payload: Any, key: str, model: type[M]) -> list[M]:
        if not isinstance(payload, dict) or not isinstance(payload.get(key), list):
            raise AppwriteProtocolError(f"list response without a {key!r} array")
        return [self._parse(model, item, key) for item in payload[key]]

    # -- health ---------------------------------------------------------------------------------------------------

    async def health_version(self) -> str:
        """The server's version (e.g. "1.6.2"). Sent without the key (a key lacks the `public` scope) and format."""
        response, _ = await self._call("GET", "/health/version", auth=False, negotiate=False)
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("version"), str):
            raise AppwriteProtocolError("health/version answered without a version")
        return str(payload["version"])

    async def capabilities(self) -> Capabilities:
        """What the server can do: negotiated on first use (one `GET /v1/health/version`), then reused.

        Raises `UnsupportedServerVersion` for servers older than 1.6 (every time it is called). When the health
        route itself answers an error, the `version` of that error envelope is used instead. A server newer than
        fnsync knows is spoken to in the newest known format, with a one-line notice (logged once).
        """
        if self._capabilities is None:
            async with self._version_lock:
                if self._capabilities is None:
                    version = self._refused or await self._detect_version()
                    if version < MINIMUM_VERSION:
                        self._refused = version
                        raise UnsupportedServerVersion(str(version), str(MINIMUM_VERSION), self.endpoint)
                    self._capabilities = Capabilities.negotiate(version)
                    if self._capabilities.notice:
                        logger.warning("%s", self._capabilities.notice)
        return self._capabilities

    @property
    def negotiated(self) -> Capabilities | None:
        """The capabilities once known (negotiated or given), without asking the server."""
        return self._capabilities

    async def server_version(self) -> ServerVersion:
        """The server's version, as negotiated (see `capabilities`)."""
        return (await self.capabilities()).server

    async def _detect_version(self) -> ServerVersion:
        try:
            text = await self.health_version()
        except AppwriteResponseError as exc:
            if not exc.version:
                raise
            text = exc.version
        try:
            return ServerVersion.parse(text)
        except ValueError:
            raise AppwriteProtocolError(f"health/version answered an unknown version {text[:40]!r}") from None

    # -- functions ------------------------------------------------------------------------------------------------

    async def list_functions(self, search: str | None = None, queries: Iterable[str] = ()) -> list[Function]:
        return await self._list("/functions", "functions", Function, queries, search)

    async def get_function(self, function_id: str) -> Function | None:
        """The function, or None when the server says `function_not_found` (other 404s still raise)."""
        try:
            payload = await self._json("GET", f"/functions/{_seg(function_id, 'function_id')}")
        except AppwriteResponseError as exc:
            if is_not_found(exc, "function_not_found"):
                return None
            raise
        return self._parse(Function, payload, "function")

    async def create_function(
        self, function_id: str, settings: Mapping[str, Any] | BaseModel | None = None, /, **fields: Any
    ) -> Function:
        """POST /functions. A taken id raises `AppwriteResponseError` with `.already_exists`; if that answer came to
        a retry (`.retried`), our own earlier attempt most likely created it (`errors.is_duplicate_of_own_create`)."""
        _seg(function_id, "function_id")
        body = {"functionId": function_id, **_settings_body(settings, fields, create=True)}
        safety = Safety.UNSAFE if function_id == "unique()" else Safety.KEYED_CREATE
        try:
            response, _ = await self._call("POST", "/functions", json=body, safety=safety)
        except AppwriteResponseError as exc:
            self.creation_limit = exc.rate_limit or self.creation_limit
            raise
        self.creation_limit = RateLimit.from_headers(response.headers) or self.creation_limit
        return self._parse(Function, self._body(response, "POST /functions"), "function")

    async def probe_creation_limit(self, existing: Function) -> RateLimit | None:
        """The function-creation allowance left, without creating anything (None: the server sent no limit headers).

        Appwrite counts a create against its limit after validating the parameters and before looking for a taken
        id, so creating `existing` (a function the server has) again answers 409 with the `X-RateLimit-*` headers.
        The probe uses up one unit of the allowance. Should `existing` have been deleted meanwhile, the probe
        recreated it: it is deleted again at once.
        """
        body = {"functionId": existing.id, "name": existing.name, "runtime": existing.runtime, "enabled": False}
        try:
            response, _ = await self._call("POST", "/functions", json=body, safety=Safety.UNSAFE)
        except AppwriteResponseError as exc:
            if exc.rate_limit is not None:
                self.creation_limit = exc.rate_limit
            return exc.rate_limit
        await self.delete_function(existing.id)
        self.creation_limit = RateLimit.from_headers(response.headers) or self.creation_limit
        return self.creation_limit

    def _body(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise AppwriteProtocolError(f"{what}: response is not JSON") from None

    async def update_function(
        self, function_id: str, settings: Mapping[str, Any] | BaseModel | None = None, /, **fields: Any
    ) -> Function:
        """PUT /functions/{id}: a full replacement, so pass every setting (omitted ones reset to defaults, §13.2)."""
        body = _settings_body(settings, fields, create=False)
        payload = await self._json("PUT", f"/functions/{_seg(function_id, 'function_id')}", json=body)
        return self._parse(Function, payload, "function")

    async def delete_function(self, function_id: str) -> None:
        await self._delete(f"/functions/{_seg(function_id, 'function_id')}")

    async def _delete(self, path: str) -> None:
        """DELETE; a 404 that answers a retry means our earlier attempt did it, so it counts as done."""
        try:
            await self._call("DELETE", path)
        except AppwriteResponseError as exc:
            if exc.retried and exc.not_found:
                self.stats.recovered += 1
                logger.info("DELETE %s%s: already gone after a retry; counted as done", self._base_path, path)
                return
            raise

    async def list_runtimes(self) -> list[Runtime]:
        """Runtimes. A public route on 1.7+, where an API key is refused (401), so it goes without one there."""
        caps = await self.capabilities()
        try:
            payload = await self._json("GET", "/functions/runtimes", auth=not caps.keyless_runtimes)
        except AppwriteResponseError as exc:
            # The public scope on 1.7+ is read from source, not observed [NEWER-SERVERS §0.10]: a server that
            # still wants the key for it gets it, once.
            if not (caps.keyless_runtimes and exc.status == 401):
                raise
            payload = await self._json("GET", "/functions/runtimes")
        return self._items(payload, "runtimes", Runtime)

    async def list_specifications(self) -> list[Specification]:
        return self._items(await self._json("GET", "/functions/specifications"), "specifications", Specification)

    # -- variables ------------------------------------------------------------------------------------------------

    def _vars(self, function_id: str) -> str:
        return f"/functions/{_seg(function_id, 'function_id')}/variables"

    async def list_variables(self, function_id: str) -> list[Variable]:
        """All variables: paged with limit+cursor where the server pages (1.9.5+), one answer elsewhere."""
        caps = await self.capabilities()
        if caps.variable_paging:
            return await self._list(self._vars(function_id), "variables", Variable)
        payload = await self._json("GET", self._vars(function_id))
        return self._items(payload, "variables", Variable)

    async def create_variable(
        self,
        function_id: str,
        key: str,
        value: str,
        *,
        secret: bool | None = None,
        description: str | None = None,
    ) -> Variable:
        """POST a variable. The key is unique per function, so the create is retried like an idempotent request;
        a 409 that answers a retry carries `.retried` (see `errors.is_duplicate_of_own_create`).

        Where variables can be secret (1.7+), `secret` is always sent, False unless asked: 1.7 made true the
        default. `secret=True` or a `description` the server lacks is a caller mistake (ValueError).
        """
        if not key:
            raise ValueError("variable key must not be empty")
        caps = await self.capabilities()
        body: dict[str, Any] = {"key": key, "value": value}
        if caps.variable_id_on_create:
            body = {"variableId": "unique()", **body}
        body.update(self._variable_extras(caps, secret=bool(secret), description=description, create=True))
        payload = await self._json("POST", self._vars(function_id), json=body, safety=Safety.KEYED_CREATE)
        return self._parse(Variable, payload, "variable")

    async def update_variable(
        self,
        function_id: str,
        variable_id: str,
        key: str,
        value: str | None,
        *,
        secret: bool | None = None,
        description: str | None = None,
    ) -> Variable:
        """PUT a variable; `value=None` keeps the value, `secret=None` keeps the flag (a secret cannot be unset:
        Appwrite answers 400 `variable_cannot_unset_secret`), `description=None` keeps the description."""
        if not key:
            raise ValueError("variable key must not be empty")
        caps = await self.capabilities()
        body: dict[str, Any] = {"key": key}
        if value is not None:
            body["value"] = value
        body.update(self._variable_extras(caps, secret=secret, description=description, create=False))
        payload = await self._json(
            "PUT", f"{self._vars(function_id)}/{_seg(variable_id, 'variable_id')}", json=body
        )
        return self._parse(Variable, payload, "variable")

    @staticmethod
    def _variable_extras(
        caps: Capabilities, *, secret: bool | None, description: str | None, create: bool
    ) -> dict[str, Any]:
        extras: dict[str, Any] = {}
        if secret and not caps.secret_variables:
            raise ValueError(f"secret variables need Appwrite {caps.since('secret')} or newer; the server runs {caps.server}")
        if caps.secret_variables and (secret is not None or create):
            extras["secret"] = bool(secret)
        if description is not None:
            if not caps.variable_descriptions:
                raise ValueError(
                    f"variable descriptions need Appwrite {caps.since('description')} or newer; the server runs {caps.server}"
                )
            extras["description"] = description
        return extras

    async def delete_variable(self, function_id: str, variable_id: str) -> None:
        await self._delete(f"{self._vars(function_id)}/{_seg(variable_id, 'variable_id')}")

    # -- deployments ----------------------------------------------------------------------------------------------

    def _deps(self, function_id: str) -> str:
        return f"/functions/{_seg(function_id, 'function_id')}/deployments"

    def _dep(self, function_id: str, deployment_id: str) -> str:
        return f"{self._deps(function_id)}/{_seg(deployment_id, 'deployment_id')}"

    async def list_deployments(
        self, function_id: str, queries: Iterable[str] = (), search: str | None = None
    ) -> list[Deployment]:
        """Deployments, all pages unless `queries` holds a limit/offset/cursor (then exactly that page).

        A query on an attribute the server cannot filter (1.7+ dropped `size`, `buildId`, `entrypoint`, `commands`;
        1.8 renamed `$internalId`) is refused here (ValueError) rather than sent for a 400.
        """
        queries = list(queries)
        allowed = (await self.capabilities()).deployment_query_attributes
        refused = sorted({a for q in queries if (a := query_attribute(q)) and a not in allowed})
        if refused:
            raise ValueError(f"this server cannot query deployments by {', '.join(refused)}")
        return await self._list(self._deps(function_id), "deployments", Deployment, queries, search)

    async def get_deployment(self, function_id: str, deployment_id: str) -> Deployment:
        return self._parse(Deployment, await self._json("GET", self._dep(function_id, deployment_id)), "deployment")

    async def latest_deployment(self, function_id: str) -> Deployment | None:
        found = await self.list_deployments(function_id, [Query.order_desc("$createdAt"), Query.limit(1)])
        return found[0] if found else None

    async def create_deployment(
        self,
        function_id: str,
        archive: Path,
        *,
        activate: bool,
        entrypoint: str | None = None,
        commands: str | None = None,
        on_progress: Callable[[UploadProgress], None] | None = None,
    ) -> Deployment:
        """Upload a tar.gz as `code.tar.gz` (multipart, streamed from disk).

        Archives of `chunk_size` (5 MiB) or more go up in slices with `Content-Range`, the 2nd on carrying
        `X-Appwrite-ID`; each slice is retried on its own. The first request may create the deployment, so it is
        only repeated when it certainly did not reach the server.
        """
        path = self._deps(function_id)
        archive = Path(archive)
        total = archive.stat().st_size  # FileNotFoundError for a missing archive: a caller mistake
        if total == 0:
            raise ValueError(f"archive {archive} is empty")
        fields = {"activate": "true" if activate else "false"}
        if entrypoint is not None:
            fields["entrypoint"] = entrypoint
        if commands is not None:
            fields["commands"] = commands
        with archive.open("rb") as handle:
            if total < self.chunk_size:
                files = {"code": ("code.tar.gz", handle, "application/gzip")}
                payload = await self._json("POST", path, data=fields, files=files, safety=Safety.UNSAFE)
                deployment = self._parse(Deployment, payload, "deployment")
                if on_progress:
                    on_progress(UploadProgress(deployment_id=deployment.id, uploaded=total, total=total, chunks_uploaded=1, chunks_total=1))
                return deployment
            ranges = chunk_ranges(total, self.chunk_size)
            deployment_id: str | None = None
            deployment: Deployment | None = None
            for index, (start, end) in enumerate(ranges, start=1):
                headers = {"Content-Range": f"bytes {start}-{end}/{total}"}
                if deployment_id is not None:
                    headers["X-Appwrite-ID"] = deployment_id
                files = {"code": ("code.tar.gz", FileSlice(handle, start, end + 1 - start), "application/gzip")}
                try:
                    payload = await self._json(
                        "POST",
                        path,
                        data=fields,
                        files=files,
                        headers=headers,
                        safety=Safety.UNSAFE if deployment_id is None else Safety.IDEMPOTENT,
                    )
                except AppwriteResponseError as exc:
                    # A repeated final chunk can meet the upload it completed itself ("already exists").
                    if deployment_id is None or not (exc.retried and is_already_exists(exc)) or end != total - 1:
                        raise
                    self.stats.recovered += 1
                    payload = (await self.get_deployment(function_id, deployment_id)).model_dump(by_alias=True)
                deployment = self._parse(Deployment, payload, "deployment")
                deployment_id = deployment_id or deployment.id
                if on_progress:
                    on_progress(
                        UploadProgress(
                            deployment_id=deployment_id, uploaded=end + 1, total=total, chunks_uploaded=index, chunks_total=len(ranges)
                        )
                    )
            assert deployment is not None
            return deployment

    async def activate_deployment(self, function_id: str, deployment_id: str) -> Function:
        """Make a ready deployment the active one; answers the Function."""
        if (await self.capabilities()).deployment_routes:
            _seg(deployment_id, "deployment_id")
            path = f"/functions/{_seg(function_id, 'function_id')}/deployment"
            payload = await self._json("PATCH", path, json={"deploymentId": deployment_id})
        else:
            payload = await self._json("PATCH", self._dep(function_id, deployment_id))
        return self._parse(Function, payload, "function")

    async def delete_deployment(self, function_id: str, deployment_id: str) -> None:
        await self._delete(self._dep(function_id, deployment_id))

    async def rebuild_deployment(self, function_id: str, deployment_id: str) -> Deployment:
        """Rebuild into a new deployment. 1.6 answers 204 without the id, so the newest deployment is looked up
        (§13.3); 1.7+ answers 202 with it. Never retried after an attempt that may have landed."""
        if (await self.capabilities()).deployment_routes:
            _seg(deployment_id, "deployment_id")
            body = {"deploymentId": deployment_id}
            response, _ = await self._call("POST", f"{self._deps(function_id)}/duplicate", json=body, safety=Safety.UNSAFE)
        else:
            response, _ = await self._call("POST", f"{self._dep(function_id, deployment_id)}/build", safety=Safety.UNSAFE)
        if response.status_code != 204 and response.content:
            return self._parse(Deployment, response.json(), "deployment")
        latest = await self.latest_deployment(function_id)
        if latest is None:
            raise AppwriteProtocolError(f"rebuild of {deployment_id} left no deployment on {function_id}")
        return latest

    async def cancel_build(self, function_id: str, deployment_id: str) -> Build:
        """Cancel a build. 1.6 answers the Build; 1.7+ answer the Deployment, which is turned into a Build."""
        caps = await self.capabilities()
        payload = await self._json("PATCH", f"{self._dep(function_id, deployment_id)}/{'status' if caps.deployment_routes else 'build'}")
        if isinstance(payload, dict) and "resourceId" in payload:
            return Build.from_deployment(self._parse(Deployment, payload, "deployment"))
        return self._parse(Build, payload, "build")

    async def download_deployment(
        self, function_id: str, deployment_id: str, *, byte_range: tuple[int, int] | None = None
    ) -> bytes:
        """The uploaded archive, or the inclusive `byte_range` of it (e.g. (0, 511) to read the gzip header).

        A range past the end gives the bytes that exist (Appwrite refuses it with 416; the client then reads it all).
        """
        headers: dict[str, str] = {}
        if byte_range is not None:
            start, end = byte_range
            if start < 0 or end < start:
                raise ValueError(f"invalid byte_range {byte_range}")
            headers["Range"] = f"bytes={start}-{end}"
        url, params = await self._download_url(function_id, deployment_id)
        try:
            response, _ = await self._call("GET", url, params=params, headers=headers)
        except AppwriteResponseError as exc:
            # Appwrite answers 416 when the range runs past the end (e.g. a header probe of a tiny archive):
            # the archive is smaller than asked for, so read it whole and cut.
            if byte_range is None or exc.status != 416:
                raise
            response, _ = await self._call("GET", url, params=params)
        if byte_range is not None and response.status_code == 200:  # a server that ignores Range, or the 416 path
            return response.content[byte_range[0] : byte_range[1] + 1]
        return response.content

    async def _download_url(self, function_id: str, deployment_id: str) -> tuple[str, list[tuple[str, str]] | None]:
        """The source archive's URL: 1.7+ take `type=source` (the negotiated format keeps 1.9.5+ from sending the build)."""
        url = f"{self._dep(function_id, deployment_id)}/download"
        return url, ([("type", "source")] if (await self.capabilities()).download_type_param else None)

    async def download_deployment_to(self, function_id: str, deployment_id: str, path: Path) -> int:
        """Stream the archive into `path` (written beside it, then renamed). Returns the byte count.

        A connection lost mid-body restarts the download, within the retry policy's attempts.
        """
        path = Path(path)
        partial = path.with_name(path.name + ".part")
        attempts = self._retrier.policy.max_attempts
        url, params = await self._download_url(function_id, deployment_id)
        for attempt in range(1, attempts + 1):
            response, _ = await self._call("GET", url, params=params, stream=True)
            written = 0
            try:
                with partial.open("wb") as out:
                    async for chunk in response.aiter_bytes():
                        out.write(chunk)
                        written += len(chunk)
            except httpx.TransportError as exc:
                if attempt == attempts:
                    partial.unlink(missing_ok=True)
                    raise self._connection_error("GET", self._base_path + url, exc) from None
                await self._sleep(self._retrier.policy.backoff(attempt, self._retrier.rng))
                continue
            finally:
                await response.aclose()
            os.replace(partial, path)
            return written
        raise AssertionError("unreachable")

    async def wait_for_build(
        self,
        function_id: str,
        deployment_id: str,
        *,
        timeout: float = 900.0,
        poll_interval: float = 1.0,
        max_interval: float | None = None,
        on_status: Callable[[Deployment], None] | None = None,
    ) -> Deployment:
        """Poll until the build is ready, failed or canceled, and return that deployment.

        The interval grows by half each poll up to `max_interval` (default max(poll_interval, 5 s)); watch mode
        caps it low so a short build is seen promptly. `on_status` sees each status change.
        Raises `BuildWaitTimeout` (with the last deployment seen) when `timeout` passes first.
        """
        deadline = self._clock() + timeout
        interval = poll_interval
        ceiling = max_interval if max_interval is not None else max(poll_interval, 5.0)
        last_status: str | None = None
        while True:
            deployment = await self.get_deployment(function_id, deployment_id)
            if deployment.status != last_status:
                last_status = deployment.status
                if on_status:
                    on_status(deployment)
            if deployment.finished:
                return deployment
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise BuildWaitTimeout(
                    f"build of deployment {deployment_id} of {function_id} not finished after {timeout:g}s "
                    f"(status {deployment.status or 'waiting'!r})",
                    deployment,
                )
            await self._sleep(min(interval, remaining))
            interval = min(interval * 1.5, ceiling)

    # -- executions -----------------------------------------------------------------------------------------------

    def _execs(self, function_id: str) -> str:
        return f"/functions/{_seg(function_id, 'function_id')}/executions"

    async def create_execution(
        self,
        function_id: str,
        *,
        body: str = "",
        path: str = "/",
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        async_: bool = False,
    ) -> Execution:
        """Run the function. Not repeated after an attempt that may have reached the server (it would run twice)."""
        payload: dict[str, Any] = {"body": body, "async": async_, "path": path, "method": method}
        if headers:
            payload["headers"] = dict(headers)
        data = await self._json("POST", self._execs(function_id), json=payload, safety=Safety.UNSAFE)
        return self._parse(Execution, data, "execution")

    async def get_execution(self, function_id: str, execution_id: str) -> Execution:
        data = await self._json("GET", f"{self._execs(function_id)}/{_seg(execution_id, 'execution_id')}")
        return self._parse(Execution, data, "execution")

    async def list_executions(self, function_id: str, queries: Iterable[str] = ()) -> list[Execution]:
        return await self._list(self._execs(function_id), "executions", Execution, queries)
