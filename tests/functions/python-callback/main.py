"""Calls back into the server with the key the execution received, as Appwrite functions do with their SDK."""

import json
import os
import urllib.error
import urllib.request


def main(context):
    key = context.req.headers.get("x-appwrite-key", "")
    request = urllib.request.Request(
        os.environ["APPWRITE_FUNCTION_API_ENDPOINT"] + "/functions",
        headers={"x-appwrite-project": os.environ["APPWRITE_FUNCTION_PROJECT_ID"], "x-appwrite-key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, body = response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        status, body = error.code, json.loads(error.read())
    # the key goes back only so the test can try it from outside; a real function would never echo it
    return context.res.json({"status": status, "body": body, "key": key})
