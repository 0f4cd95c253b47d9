"""V25: clients older than format 1.9.4: `createVariable` gets `variableId=unique()` when not sent
(appwrite/appwrite@1.9.6 src/Appwrite/Utopia/Request/Filters/V25.php). No function response changes."""

from __future__ import annotations

from localserver.versions.base import Filter, Params


class V25(Filter):
    name = "V25"
    threshold = "1.9.4"

    def request(self, method: str, params: Params, server: str) -> Params:
        if method == "functions.createVariable" and params.get("variableId") is None:
            return {**params, "variableId": "unique()"}
        return params
