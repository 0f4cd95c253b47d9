"""Usage routes through raw HTTP (the official server SDKs of 1.6 have no usage calls: they are console-only).

Ported from Appwrite 1.6.2's tests/e2e/Services/Functions/FunctionsConsoleClientTest.php (testFunctionUsage);
the counting tests check the metrics against what the server did, with 1.6.2's arithmetic.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.localserver.support import api_client, create_function, upload, wait_built

pytestmark = pytest.mark.slow

# Field order of 1.6.2's src/Appwrite/Utopia/Response/Model/UsageFunction.php and UsageFunctions.php.
SERIES = ["deployments", "deploymentsStorage", "builds", "buildsStorage", "buildsTime", "buildsMbSeconds",
          "executions", "executionsTime", "executionsMbSeconds"]
FUNCTION_FIELDS = ["range", *[f"{name}Total" for name in SERIES], *SERIES]
FUNCTIONS_FIELDS = ["range", "functionsTotal", *[f"{name}Total" for name in SERIES], "functions", *SERIES]


def test_function_usage_shape_and_failures(appwrite_sdk: Any, local_server: Any) -> None:
    """testFunctionUsage."""
    create_function(appwrite_sdk)
    with api_client(local_server) as client:
        usage = client.get("/functions/fn/usage", params={"range": "24h"})
        assert usage.status_code == 200
        body = usage.json()
        assert len(body) == 19 and list(body) == FUNCTION_FIELDS and body["range"] == "24h"
        assert all(isinstance(body[f"{name}Total"], int) for name in SERIES)
        assert all(isinstance(body[name], list) for name in SERIES)

        bad_range = client.get("/functions/fn/usage", params={"range": "232h"})
        assert bad_range.status_code == 400
        assert bad_range.json()["message"] == "Invalid `range` param: Value must be one of (24h, 30d, 90d)"
        assert client.get("/functions/randomFunctionId/usage", params={"range": "24h"}).status_code == 404
        assert client.get("/functions/usage", params={"range": "7d"}).status_code == 400  # in usage.php, not in the whitelist


@pytest.mark.parametrize(("range_", "points", "step"), [("24h", 24, timedelta(hours=1)), ("30d", 30, timedelta(days=1)), ("90d", 90, timedelta(days=1))])
def test_series_have_one_point_per_period_ending_now(local_server: Any, range_: str, points: int, step: timedelta) -> None:
    with api_client(local_server) as client:
        body = client.get("/functions/usage", params={"range": range_}).json()
    assert list(body) == FUNCTIONS_FIELDS and body["range"] == range_
    for name in ("functions", *SERIES):
        series = body[name]
        assert len(series) == points and all(point["value"] == 0 for point in series)
        dates = [datetime.fromisoformat(point["date"]) for point in series]
        assert all(later - earlier == step for earlier, later in zip(dates, dates[1:]))
        assert dates[-1] <= datetime.now(timezone.utc) < dates[-1] + step
    assert series[-1]["date"].endswith(":00:00.000+00:00")


def test_default_range_is_30d_and_guests_are_refused(local_server: Any) -> None:
    with api_client(local_server) as client:
        assert client.get("/functions/usage").json()["range"] == "30d"
    guest = httpx.get(f"{local_server.endpoint}/functions/usage", headers={"X-Appwrite-Project": local_server.project})
    assert guest.status_code == 401 and guest.json()["type"] == "general_unauthorized_scope"


def test_counts_builds_and_executions_as_appwrite_does(appwrite_sdk: Any, local_server: Any) -> None:
    create_function(appwrite_sdk, specification="s-1vcpu-1gb")
    create_function(appwrite_sdk, "other")
    deployment = upload(appwrite_sdk)
    build = wait_built(appwrite_sdk, "fn", deployment["$id"])
    assert build["status"] == "ready"
    executions = [appwrite_sdk.create_execution("fn") for _ in range(3)]
    assert all(execution["status"] == "completed" for execution in executions)

    with api_client(local_server) as client:
        mine = client.get("/functions/fn/usage", params={"range": "24h"}).json()
        other = client.get("/functions/other/usage", params={"range": "24h"}).json()
        project = client.get("/functions/usage", params={"range": "30d"}).json()

    durations = [execution["duration"] for execution in executions]
    expected = {
        "deploymentsTotal": 1,
        "deploymentsStorageTotal": build["size"],
        "buildsTotal": 1,
        "buildsStorageTotal": build["buildSize"],
        "buildsTimeTotal": int(build["buildTime"]) * 1000,
        "buildsMbSecondsTotal": int(1024 * build["buildTime"] * 1),
        "executionsTotal": 3,
        "executionsTimeTotal": sum(int(d * 1000) for d in durations),
        "executionsMbSecondsTotal": sum(int(1024 * d * 1) for d in durations),
    }
    assert {key: mine[key] for key in expected} == expected
    for name in SERIES:  # everything happened within the range, so each series adds up to its total
        assert sum(point["value"] for point in mine[name]) == mine[f"{name}Total"], name
    assert all(other[f"{name}Total"] == 0 for name in SERIES)
    assert project["functionsTotal"] == 2 and sum(point["value"] for point in project["functions"]) == 2
    assert {key: project[key] for key in expected} == expected
