"""V18: clients older than format 1.6.0 (the 1.5 SDKs) on 1.6+ servers (appwrite/appwrite@1.9.6
src/Appwrite/Utopia/Request/Filters/V18.php, Response/Filters/V18.php).

Requests: create's `templateBranch` becomes `templateVersion`. Responses: Function loses `scopes` and
`specification`, Runtime loses `key`, Execution loses `scheduledAt`; the rule turning a `completed`
execution with a 4xx `statusCode` into `failed` reads a field 1.4 renamed, so it never fires, as in Appwrite.
"""

from __future__ import annotations

from localserver.versions.base import Document, Filter, Params, drop, handle_list


class V18(Filter):
    name = "V18"
    threshold = "1.6.0"

    def request(self, method: str, params: Params, server: str) -> Params:
        if method == "functions.create" and "templateBranch" in params:
            return {**drop(params, "templateBranch"), "templateVersion": params.get("templateBranch") or ""}
        return params

    def response(self, model: str, body: Document, server: str) -> Document:
        if model == "function":
            return drop(body, "scopes", "specification")
        if model == "functionList":
            return handle_list(body, "functions", lambda item: drop(item, "scopes", "specification"))
        if model == "execution":
            return _execution(body)
        if model == "executionList":
            return handle_list(body, "executions", _execution)
        if model == "runtimeList":
            return handle_list(body, "runtimes", lambda item: drop(item, "key"))
        return body


def _execution(doc: Document) -> Document:
    status_code = doc.get("statusCode")
    if doc.get("status") == "completed" and isinstance(status_code, int) and 400 <= status_code < 500:
        doc = {**doc, "status": "failed"}
    return drop(doc, "scheduledAt")
