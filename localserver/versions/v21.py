"""V21: clients older than format 1.9.0 (SDK 13.x, appwrite-cli 12) on 1.9+ servers; also a 1.6/1.8 server's own
`specification` param. appwrite/appwrite@1.9.6 src/Appwrite/Utopia/Request/Filters/V21.php `convertSpecs`,
`convertVersionToTypeAndReference`; Response/Filters/V21.php `parseSpecs`.

The lossy part is Appwrite's: `specification` overwrites both specs, and old clients only see the build spec.
"""

from __future__ import annotations

from localserver.versions.base import Document, Filter, Params, drop, handle_list, since


class V21(Filter):
    name = "V21"
    threshold = "1.9.0"

    def request(self, method: str, params: Params, server: str) -> Params:
        if method in ("functions.create", "functions.update") and params.get("specification"):
            spec = params["specification"]
            return {**drop(params, "specification"), "buildSpecification": spec, "runtimeSpecification": spec}
        # Only 1.9.0+ translate; on 1.8.1 a 1.8.0-format `version` call misses `type`/`reference` (400).
        if method == "functions.createTemplateDeployment" and "version" in params and since(server, "1.9.0"):
            return {**drop(params, "version"), "type": "tag", "reference": params["version"]}
        return params

    def response(self, model: str, body: Document, server: str) -> Document:
        if model == "function":
            return _specs(body)
        if model == "functionList":
            return handle_list(body, "functions", _specs)
        return body


def _specs(doc: Document) -> Document:
    spec = doc.get("buildSpecification", doc.get("specification"))
    out = drop(doc, "specification", "buildSpecification", "runtimeSpecification")
    out["specification"] = spec
    return out
