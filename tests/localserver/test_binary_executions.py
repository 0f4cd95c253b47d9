"""Binary execution bodies through raw HTTP (the official SDKs send executions as JSON and read JSON back).

Ported from Appwrite 1.6.2's tests/e2e/Services/Functions/FunctionsCustomServerTest.php
(testCreateCustomExecutionBinaryResponse, testCreateCustomExecutionBinaryRequest), with the PHP functions of
tests/resources/functions/php-binary-{response,request} rewritten in Python.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest

from localserver.execution_io import _php_float, multipart_body
from tests.helpers import wait_until
from tests.functions.harness import sdk
from tests.localserver.support import api_client, create_function, running_server, upload, wait_built

pytestmark = pytest.mark.slow

BINARY_RESPONSE = b"def main(context):\n    return context.res.binary(bytes([0, 10, 255]))\n"
BINARY_REQUEST = b"""import hashlib

def main(context):
    digest = hashlib.md5(context.req.body_binary).hexdigest()
    context.log(digest)
    context.log(context.req.headers.get("x-kind", ""))
    return context.res.send(digest)
"""
BYTES = bytes([0, 20, 255])
# 1.6.2's src/Appwrite/Utopia/Response/Model/Execution.php, in order.
EXECUTION_1_6 = ["$id", "$createdAt", "$updatedAt", "$permissions", "functionId", "trigger", "status", "requestMethod",
                 "requestPath", "requestHeaders", "responseStatusCode", "responseBody", "responseHeaders", "logs", "errors",
                 "duration", "scheduledAt"]


@pytest.fixture
def client(appwrite_sdk: Any, local_server: Any) -> Iterator[httpx.Client]:
    for function_id, code in (("binres", BINARY_RESPONSE), ("binreq", BINARY_REQUEST)):
        create_function(appwrite_sdk, function_id, execute=["any"])
        assert wait_built(appwrite_sdk, function_id, upload(appwrite_sdk, function_id, {"main.py": code})["$id"])["status"] == "ready"
    with api_client(local_server) as http:
        yield http


def multipart_parts(response: httpx.Response) -> dict[str, bytes]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode() + response.content)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True).removesuffix(b"\r\n")
            for part in message.iter_parts()}


def test_binary_response_as_multipart(client: httpx.Client) -> None:
    """testCreateCustomExecutionBinaryResponse, SUCCESS part."""
    response = client.post("/functions/binres/executions", json={"body": None}, headers={"Accept": "multipart/form-data"})
    assert response.status_code == 201
    media_type, boundary = response.headers["content-type"].split(";")
    assert media_type == "multipart/form-data" and boundary.strip().startswith("boundary=----")
    parts = multipart_parts(response)
    assert parts["responseBody"] == b"\x00\n\xff"
    assert parts["status"] == b"completed" and parts["responseStatusCode"] == b"200"
    assert list(parts) == EXECUTION_1_6 and json.loads(parts["$permissions"]) == []
    assert isinstance(json.loads(parts["responseHeaders"]), list)


def test_multipart_reply_in_the_clients_format(tmp_path: Path) -> None:
    """Appwrite filters the model before it encodes it: a multipart reply has the fields of the JSON one, in the
    client's format (here a 1.9.6 server, asked in its own format and in the 1.6 SDKs' 1.6.0)."""
    with running_server(tmp_path / "data", appwrite_version="1.9.6") as (server, _):
        functions = sdk(server)
        create_function(functions, "binreq", execute=["any"])
        assert wait_built(functions, "binreq", upload(functions, "binreq", {"main.py": BINARY_REQUEST})["$id"])["status"] == "ready"
        with api_client(server) as client:
            for fmt in ({}, {"X-Appwrite-Response-Format": "1.6.0"}):
                as_json = client.post("/functions/binreq/executions", json={}, headers={"Accept": "application/json", **fmt}).json()
                parts = multipart_parts(client.post("/functions/binreq/executions", json={}, headers={"Accept": "multipart/form-data", **fmt}))
                assert list(parts) == list(as_json), fmt
                assert parts["responseBody"].decode() == as_json["responseBody"] == hashlib.md5(b"").hexdigest()
    assert "functionId" in as_json and "resourceId" not in as_json  # the 1.6.0 format


def test_binary_response_cannot_be_json(client: httpx.Client) -> None:
    """testCreateCustomExecutionBinaryResponse, FAILURE part; without a JSON or multipart Accept 1.6.2 fails harder."""
    refused = client.post("/functions/binres/executions", json={"body": None}, headers={"Accept": "application/json"})
    assert refused.status_code == 400
    assert refused.json()["type"] == "general_unknown"
    assert refused.json()["message"] == "Failed to parse response: Malformed UTF-8 characters, possibly incorrectly encoded"
    default = client.post("/functions/binres/executions", json={}, headers={"Accept": "*/*"})
    assert (default.status_code, default.json()["message"]) == (500, "Server Error")
    executions = client.get("/functions/binres/executions").json()  # each run was still recorded, as on Appwrite
    assert executions["total"] == 2 and {e["status"] for e in executions["executions"]} == {"completed"}


def test_binary_request_reaches_the_function_byte_for_byte(client: httpx.Client) -> None:
    """testCreateCustomExecutionBinaryRequest: a multipart `body` is raw bytes; the JSON one is text."""
    sent = client.post("/functions/binreq/executions", files={"body": (None, BYTES)}, headers={"Accept": "application/json"})
    assert sent.status_code == 201, sent.text
    assert sent.json()["responseBody"] == hashlib.md5(BYTES).hexdigest()
    assert sent.headers["content-type"].startswith("application/json")

    as_json = client.post("/functions/binreq/executions", json={"body": BYTES.decode("latin-1")}, headers={"Accept": "application/json"})
    assert as_json.json()["responseBody"] != hashlib.md5(BYTES).hexdigest()


def test_form_params_are_read_not_dropped(client: httpx.Client) -> None:
    """Multipart and urlencoded forms carry every param (PHP's `headers[name]` arrays too); async keeps the bytes."""
    data = {"async": "true", "path": "/bin", "method": "PUT", "headers[x-kind]": "form"}
    queued = client.post("/functions/binreq/executions", data=data, files={"body": (None, BYTES)})
    assert queued.status_code == 202 and queued.json()["requestMethod"] == "PUT" and queued.json()["requestPath"] == "/bin"
    done = wait_until(lambda: (e := client.get(f"/functions/binreq/executions/{queued.json()['$id']}").json())["status"] == "completed" and e,
                      timeout=30, what="async execution")
    assert done["logs"].split("\n")[:2] == [hashlib.md5(BYTES).hexdigest(), "form"]

    encoded = client.post("/functions/binreq/executions", content=b"body=%00%14%FF&path=%2Fq",
                          headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"})
    assert encoded.json()["responseBody"] == hashlib.md5(BYTES).hexdigest() and encoded.json()["requestPath"] == "/q"
    plain = client.post("/functions/binreq/executions", content=BYTES, headers={"Content-Type": "text/plain"})
    assert plain.json()["responseBody"] == hashlib.md5(b"").hexdigest()  # no params from other types, as in PHP


def test_multipart_export_matches_appwrite() -> None:
    body = multipart_body({"a": "x", "n": 3, "f": False, "d": 0.25, "l": [{"name": "k/v"}], "none": None}, "B")
    assert body == (b'--B\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--B'
                    b'\r\nContent-Disposition: form-data; name="n"\r\n\r\n3\r\n--B'
                    b'\r\nContent-Disposition: form-data; name="f"\r\n\r\n0\r\n--B'
                    b'\r\nContent-Disposition: form-data; name="d"\r\n\r\n0.25\r\n--B'
                    b'\r\nContent-Disposition: form-data; name="l"\r\nContent-Type: application/json\r\n\r\n[{"name":"k\\/v"}]\r\n--B'
                    b'\r\nContent-Disposition: form-data; name="none"\r\n\r\n\r\n--B--\r\n')
    assert [_php_float(x) for x in (0.5, 3.0, 1e-5, 0.1 + 0.2, 1e20)] == ["0.5", "3", "1.0E-5", "0.3", "1.0E+20"]
