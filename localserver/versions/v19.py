"""V19: clients older than format 1.7.0 (the 1.6 SDKs) on 1.7+ servers; also lifts a 1.6.2 server's own params.

appwrite/appwrite@1.9.6 src/Appwrite/Utopia/Request/Filters/V19.php and Response/Filters/V19.php.
Which rules a server has depends on its release (NEWER-SERVERS.md §1): 1.7.0 dropped the template
params and the executions `search`; 1.7.1 added the query renames and the forced `secret=false`;
1.9.5 forces downloads to the build output. A 1.6.2 server itself (no such rules) only needs the
renames that make its params the newest ones: `deployment` -> `deploymentId`, `size` -> `sourceSize`.
"""

from __future__ import annotations

from localserver.versions.base import Document, Filter, Params, drop, handle_list, rename, rename_query_attribute, since

TEMPLATE_PARAMS = ("templateRepository", "templateOwner", "templateRootDirectory", "templateVersion")


class V19(Filter):
    name = "V19"
    threshold = "1.7.0"

    def request(self, method: str, params: Params, server: str) -> Params:
        if method == "functions.list":
            return rename_query_attribute(params, "deployment", "deploymentId")
        if method == "functions.listDeployments":
            # 1.7.1+ rename `size` to `deploymentSize`, which no deployment attribute is called: 400 invalid query.
            return rename_query_attribute(params, "size", "deploymentSize" if since(server, "1.7.1") else "sourceSize")
        if method == "functions.create" and since(server, "1.7.0"):
            return drop(params, *TEMPLATE_PARAMS)
        if method == "functions.listExecutions" and since(server, "1.7.0"):
            return drop(params, "search")
        if method in ("functions.createVariable", "functions.updateVariable") and since(server, "1.7.1"):
            return {**params, "secret": False}
        if method == "functions.getDeploymentDownload" and since(server, "1.9.5"):
            return {**params, "type": "output"}
        return params

    def response(self, model: str, body: Document, server: str) -> Document:
        if model == "function":
            return _function(body)
        if model == "functionList":
            return handle_list(body, "functions", _function)
        if model == "deployment":
            return _deployment(body)
        if model == "deploymentList":
            return handle_list(body, "deployments", _deployment)
        if model == "variable":
            return drop(body, "secret")
        if model == "variableList":
            return handle_list(body, "variables", lambda item: drop(item, "secret"))
        return body


def _function(doc: Document) -> Document:
    doc = rename(doc, "deploymentId", "deployment")
    return drop(doc, "deploymentCreatedAt", "latestDeploymentId", "latestDeploymentCreatedAt", "latestDeploymentStatus")


def _deployment(doc: Document) -> Document:
    doc = rename(doc, "sourceSize", "size")
    doc = rename(doc, "buildDuration", "buildTime")
    return drop(doc, "totalSize", "screenshotLight", "screenshotDark")
