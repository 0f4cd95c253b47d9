"""Usage of Appwrite 1.6.2: `GET /v1/functions/usage` and `GET /v1/functions/{functionId}/usage`.

Appwrite adds each event to its `stats` collection as it happens (a function or deployment created,
a build finished, an execution finished) and the routes read the totals and the last 24 hours / 30 or
90 days back, one point per hour or day, zero where nothing happened. The local server keeps no
separate stats: it derives the same metrics, with the same arithmetic, from what its store holds when
asked, so a deleted function's builds and executions no longer count (Appwrite keeps them in the
project's totals). Metrics are those of the 1.6.2 workers:

- functions, deployments: one per document (at `$createdAt`); deployments storage: their `size`;
- builds: one per finished build (`ready` or `failed`, at `endTime`), with its `size`, its time as
  `(int) duration * 1000` ms, and MB-seconds as `(int) (memory * duration * cpus)` of the function's
  specification;
- executions: one per finished execution (`completed` or `failed`, at `$updatedAt`), time as
  `(int) (duration * 1000)` ms, MB-seconds as for builds.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from localserver.clock import parse_iso
from localserver.context import ServerContext
from localserver.errors import AppwriteError, invalid_param
from localserver.models import check_path_id
from localserver.runtimes import DEFAULT_SPECIFICATION, specification_limits
from localserver.store import Document

READ = {"scope": "functions.read"}
# 1.6.2 `app/config/usage.php`: range -> (period, points, seconds per point)
RANGES: dict[str, tuple[str, int, int]] = {"24h": ("1h", 24, 3600), "30d": ("1d", 30, 86400), "90d": ("1d", 90, 86400)}
# PHP's date() formats for a period's points: 'Y-m-d\TH:00:00.000P' and 'Y-m-d\T00:00:00.000P' in UTC.
POINT_FORMATS = {"1h": "%Y-%m-%dT%H:00:00.000+00:00", "1d": "%Y-%m-%dT00:00:00.000+00:00"}
FINISHED_BUILDS = ("ready", "failed")
FINISHED_EXECUTIONS = ("completed", "failed")
# The metrics each model reports, in the order the model emits its `…Total` fields and then its series.
FUNCTIONS_METRICS = (
    "functions", "deployments", "deploymentsStorage", "builds", "buildsStorage", "buildsTime", "buildsMbSeconds",
    "executions", "executionsTime", "executionsMbSeconds",
)
FUNCTION_METRICS = FUNCTIONS_METRICS[1:]


@dataclass(frozen=True)
class Event:
    """One addition to a metric: when it happened and by how much."""

    at: str
    value: int


def _spec_of(function: Document | None) -> tuple[float, int]:
    slug = (function or {}).get("specification") or DEFAULT_SPECIFICATION
    try:
        return specification_limits(slug)
    except KeyError:
        return specification_limits(DEFAULT_SPECIFICATION)


def _mb_seconds(function: Document | None, duration: float) -> int:
    cpus, memory = _spec_of(function)
    return int(memory * duration * cpus)


def collect(ctx: ServerContext, function_id: str | None) -> dict[str, list[Event]]:
    """Every metric's events from the store: the whole project, or one function's."""
    store = ctx.store
    functions = {doc["$id"]: doc for doc in store.all("functions")}
    events: dict[str, list[Event]] = {name: [] for name in FUNCTIONS_METRICS}
    events["functions"] = [Event(doc["$createdAt"], 1) for doc in functions.values()]
    for deployment in store.all("deployments", parent=function_id):
        events["deployments"].append(Event(deployment["$createdAt"], 1))
        events["deploymentsStorage"].append(Event(deployment["$createdAt"], int(deployment.get("size", 0))))
    for build in store.all("builds", parent=function_id):
        if build.get("status") not in FINISHED_BUILDS:
            continue
        at = build.get("endTime") or build["$updatedAt"]
        duration = float(build.get("duration", 0) or 0)
        function = functions.get(build.get("_functionId", ""))
        events["builds"].append(Event(at, 1))
        events["buildsStorage"].append(Event(at, int(build.get("size", 0))))
        events["buildsTime"].append(Event(at, int(duration) * 1000))
        events["buildsMbSeconds"].append(Event(at, _mb_seconds(function, duration)))
    for execution in store.all("executions", parent=function_id):
        if execution.get("status") not in FINISHED_EXECUTIONS:
            continue
        at = execution["$updatedAt"]
        duration = float(execution.get("duration", 0) or 0)
        events["executions"].append(Event(at, 1))
        events["executionsTime"].append(Event(at, int(duration * 1000)))
        events["executionsMbSeconds"].append(Event(at, _mb_seconds(functions.get(execution.get("functionId", "")), duration)))
    return events


def series(events: Iterable[Event], range_: str, now: float) -> list[dict[str, Any]]:
    """The range's points, oldest first, as 1.6.2 walks them: `limit` steps of `factor` seconds ending at now."""
    period, limit, factor = RANGES[range_]
    fmt = POINT_FORMATS[period]
    sums: dict[str, int] = {}
    for event in events:
        try:
            key = parse_iso(event.at).astimezone(timezone.utc).strftime(fmt)
        except ValueError:
            continue
        sums[key] = sums.get(key, 0) + event.value
    points = []
    leap = now - limit * factor
    while leap < now:
        leap += factor
        date = datetime.fromtimestamp(leap, timezone.utc).strftime(fmt)
        points.append({"value": sums.get(date, 0), "date": date})
    return points


def usage_model(events: dict[str, list[Event]], metrics: tuple[str, ...], range_: str, now: float) -> dict[str, Any]:
    """`range`, then each metric's `…Total`, then each metric's series: the field order of UsageFunction(s)."""
    body: dict[str, Any] = {"range": range_}
    for name in metrics:
        body[f"{name}Total"] = sum(event.value for event in events[name])
    for name in metrics:
        body[name] = series(events[name], range_, now)
    return body


def _range(value: str | None) -> str:
    """WhiteList(['24h', '30d', '90d']), default 30d."""
    if value is None:
        return "30d"
    if value not in RANGES:
        raise invalid_param("range", f"Value must be one of ({', '.join(RANGES)})")
    return value


@get("/functions/usage", opt=READ, sync_to_thread=False, name="functions.getUsage")
def functions_usage(ctx: NamedDependency[ServerContext], request: Request) -> dict[str, Any]:
    chosen = _range(request.query_params.get("range"))
    return usage_model(collect(ctx, None), FUNCTIONS_METRICS, chosen, time.time())


@get("/functions/{functionId:str}/usage", opt=READ, sync_to_thread=False, name="functions.getFunctionUsage")
def function_usage(ctx: NamedDependency[ServerContext], request: Request, functionId: FromPath[str]) -> dict[str, Any]:  # noqa: N803
    check_path_id("functionId", functionId)
    chosen = _range(request.query_params.get("range"))
    if ctx.store.get("functions", functionId) is None:
        raise AppwriteError("function_not_found")
    return usage_model(collect(ctx, functionId), FUNCTION_METRICS, chosen, time.time())


ROUTES = [functions_usage, function_usage]
