"""V27: clients older than format 2.0.0 on 2.x servers (Cloud 2.5): Execution `resourceId` -> `functionId`,
`resourceType` dropped (appwrite/appwrite@HEAD src/Appwrite/Utopia/Response/Filters/V27.php). Whether Cloud
2.1-2.5 hide `description`/`interval`/`emailEnabled` from older formats is not public: they are kept."""

from __future__ import annotations

from localserver.versions.base import Document, Filter, drop, handle_list, rename


class V27(Filter):
    name = "V27"
    threshold = "2.0.0"

    def response(self, model: str, body: Document, server: str) -> Document:
        if model == "execution":
            return _execution(body)
        if model == "executionList":
            return handle_list(body, "executions", _execution)
        return body


def _execution(doc: Document) -> Document:
    return drop(rename(doc, "resourceId", "functionId"), "resourceType")
