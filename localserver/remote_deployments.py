"""Deployments the local server cannot build: from a git provider (`createVcsDeployment`) or a template
repository (`createTemplateDeployment`), both 1.7+.

Appwrite answers 202 with a new Deployment (type `vcs`, status `waiting`) and fetches the code in its
build worker. This machine reaches no git provider, so the reply has Appwrite's shape and the build then
fails at once with a log saying why: clients can drive the calls and parse the replies, nothing more.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from pydantic import BeforeValidator

from localserver.clock import now_iso, unique_id
from localserver.context import ServerContext
from localserver.deployments import view
from localserver.functions import WRITE, json_body, load_function
from localserver.models import DEPLOYMENT_FIELDS, LOOSE_BOOL, RequestModel, defaults, parse_body, rejected, text

NOT_FETCHED = "The local server cannot fetch code from git providers or template repositories; upload the code instead."


def _one_of(*allowed: str) -> BeforeValidator:
    def check(value: object) -> str:
        if value not in allowed:
            raise rejected(f"Value must be one of ({', '.join(allowed)})")
        return str(value)

    return BeforeValidator(check)


class VcsDeployment(RequestModel):
    type: Annotated[str, _one_of("branch", "commit", "tag")]
    reference: Annotated[str, text(255)]
    activate: Annotated[bool, LOOSE_BOOL] = False


class TemplateDeployment(RequestModel):
    repository: Annotated[str, text(128, 0)]
    owner: Annotated[str, text(128, 0)]
    rootDirectory: Annotated[str, text(128, 0)]
    type: Annotated[str, _one_of("commit", "branch", "tag")]
    reference: Annotated[str, text(128, 0)]
    activate: Annotated[bool, LOOSE_BOOL] = False


def _failed_deployment(ctx: ServerContext, function: dict[str, Any], activate: bool, branch: str = "") -> dict[str, Any]:
    now = now_iso()
    deployment_id, build_id = unique_id(), unique_id()
    build = {
        "$id": build_id, "$createdAt": now, "$updatedAt": now, "deploymentId": deployment_id, "status": "failed",
        "stdout": "", "stderr": NOT_FETCHED, "startTime": now, "endTime": now, "duration": 0, "size": 0, "logs": NOT_FETCHED,
        "_functionId": function["$id"],
    }
    doc = {key: value for key, value in defaults(DEPLOYMENT_FIELDS).items() if key not in ("status", "buildLogs", "buildDuration", "buildSize", "totalSize", "sourceSize")}
    doc.update({"$id": deployment_id, "$createdAt": now, "$updatedAt": now, "type": "vcs", "resourceId": function["$id"],
                "resourceType": "functions", "entrypoint": function.get("entrypoint", ""), "commands": function.get("commands", ""),
                "size": 0, "activate": activate, "providerBranch": branch, "_uploaded": False, "_total": 0})
    reply = view(ctx, {**doc, "buildId": ""}, "upload")
    with ctx.store.transaction():
        ctx.store.insert("deployments", {**doc, "buildId": build_id}, parent=function["$id"])
        ctx.store.insert("builds", build, parent=function["$id"])
    return reply


@post("/functions/{functionId:str}/deployments/vcs", opt=WRITE, status_code=202, name="functions.createVcsDeployment")
async def create_vcs_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> Response[Any]:  # noqa: N803
    function = load_function(ctx, functionId)
    body = parse_body(VcsDeployment, await json_body(request))
    assert isinstance(body, VcsDeployment)
    return Response(_failed_deployment(ctx, function, body.activate, body.reference if body.type == "branch" else ""), status_code=202)


@post("/functions/{functionId:str}/deployments/template", opt=WRITE, status_code=202, name="functions.createTemplateDeployment")
async def create_template_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str]) -> Response[Any]:  # noqa: N803
    function = load_function(ctx, functionId)
    body = parse_body(TemplateDeployment, await json_body(request))
    assert isinstance(body, TemplateDeployment)
    return Response(_failed_deployment(ctx, function, body.activate), status_code=202)


ROUTES = [create_vcs_deployment, create_template_deployment]
