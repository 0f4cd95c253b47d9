"""Event handler (Open Runtimes, python-3.12): runs on `users.*.create` with the new user as the body."""

import os


def main(context):
    user = context.req.body if isinstance(context.req.body, dict) else {}
    event = context.req.headers.get("x-appwrite-event", "")
    context.log(f"{event}: welcome {user.get('name') or user.get('$id', 'someone')}")
    return context.res.json({"welcomed": user.get("$id"), "from": os.environ.get("WELCOME_FROM", "the team")})
