import os


def main(context):
    """A synchronous handler: answers with its version and worker pid; counts its runs in COUNT_FILE if set."""
    context.log("sync handler")
    count_file = os.environ.get("COUNT_FILE")
    if count_file:
        with open(count_file, "a") as handle:
            handle.write(context.req.headers.get("x-appwrite-trigger", "?") + "\n")
    return context.res.json({"version": os.environ.get("VERSION_TAG", "v1"), "pid": os.getpid()})
