"""A small JSON API written the Appwrite way (Open Runtimes v4 contract), used by the executor tests."""

import asyncio
import os

from .util import greeting


async def main(context):
    req = context.req
    if req.path == "/text":
        return context.res.text("plain " + greeting(req.query.get("name", "world")))
    if req.path == "/redirect":
        return context.res.redirect("https://appwrite.io/docs", 302)
    if req.path == "/empty":
        return context.res.empty()
    if req.path == "/logs":
        context.log("a log line", {"n": 1})
        context.error("an error line")
        print("printed natively")
        return context.res.send("logged")
    if req.path == "/env":
        names = ["MY_VAR", "APPWRITE_FUNCTION_ID", "APPWRITE_FUNCTION_NAME", "APPWRITE_FUNCTION_DEPLOYMENT",
                 "APPWRITE_FUNCTION_PROJECT_ID", "APPWRITE_FUNCTION_RUNTIME_NAME", "APPWRITE_FUNCTION_RUNTIME_VERSION",
                 "APPWRITE_FUNCTION_API_ENDPOINT", "FNSYNC_SERVER_SECRET"]
        return context.res.json({name: os.environ.get(name) for name in names} | {"cwd": os.getcwd()})
    if req.path == "/throw":
        raise RuntimeError("thrown on purpose")
    if req.path == "/sleep":
        await asyncio.sleep(float(req.query.get("s", "60")))
        return context.res.text("woke up")
    if req.path == "/spin":
        while True:
            pass
    if req.path == "/flood":
        while True:
            print("x" * 1000)
    if req.path == "/exit":
        os._exit(3)
    if req.path == "/none":
        return None
    return context.res.json(
        {
            "method": req.method,
            "path": req.path,
            "query": req.query,
            "queryString": req.query_string,
            "body": req.body,
            "bodyText": req.body_text,
            "headers": req.headers,
            "host": req.host,
            "port": req.port,
            "scheme": req.scheme,
            "url": req.url,
            "pid": os.getpid(),
        },
        201,
        {"x-custom": "yes"},
    )
