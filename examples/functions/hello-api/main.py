"""HTTP JSON API (Open Runtimes, python-3.12): GET /?name=Ada -> {"message": "Hello, Ada!"}."""

import os


def main(context):
    greeting = os.environ.get("GREETING", "Hello")
    if context.req.path == "/health":
        return context.res.json({"ok": True})
    name = context.req.query.get("name", "world")
    context.log(f"greeting {name}")
    return context.res.json({"message": f"{greeting}, {name}!", "env": os.environ.get("APP_ENV", "")})
