"""Every route of the local server by handler name: the SDK method id filters key on, and its response model.

Aliases (old 1.6 paths kept by 1.7+) carry the method id of the route they alias, as Appwrite labels them,
so filters treat them alike. Which routes a version has is in `profiles`; per-version reply models of the
1.6 rebuild/cancel routes are in `LEGACY_MODELS`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    method: str  # SDK method id, e.g. functions.update
    model: str  # response model: function, functionList, ..., "" = not a JSON model


ROUTES: dict[str, Route] = {
    "functions.list": Route("functions.list", "functionList"),
    "functions.create": Route("functions.create", "function"),
    "functions.listRuntimes": Route("functions.listRuntimes", "runtimeList"),
    "functions.listSpecifications": Route("functions.listSpecifications", ""),
    "functions.get": Route("functions.get", "function"),
    "functions.update": Route("functions.update", "function"),
    "functions.delete": Route("functions.delete", ""),
    "functions.listDeployments": Route("functions.listDeployments", "deploymentList"),
    "functions.createDeployment": Route("functions.createDeployment", "deployment"),
    "functions.getDeployment": Route("functions.getDeployment", "deployment"),
    "functions.deleteDeployment": Route("functions.deleteDeployment", ""),
    "functions.updateFunctionDeployment": Route("functions.updateFunctionDeployment", "function"),
    "functions.updateDeployment": Route("functions.updateFunctionDeployment", "function"),
    "functions.createDuplicateDeployment": Route("functions.createDuplicateDeployment", "deployment"),
    "functions.createBuild": Route("functions.createDuplicateDeployment", "deployment"),
    "functions.createBuild.builds": Route("functions.createDuplicateDeployment", "deployment"),
    "functions.createVcsDeployment": Route("functions.createVcsDeployment", "deployment"),
    "functions.createTemplateDeployment": Route("functions.createTemplateDeployment", "deployment"),
    "functions.updateDeploymentStatus": Route("functions.updateDeploymentStatus", "deployment"),
    "functions.updateDeploymentBuild": Route("functions.updateDeploymentStatus", "deployment"),
    "functions.getDeploymentDownload": Route("functions.getDeploymentDownload", ""),
    "functions.getDeploymentDownload.build": Route("functions.getDeploymentDownload", ""),
    "functions.listExecutions": Route("functions.listExecutions", "executionList"),
    "functions.createExecution": Route("functions.createExecution", "execution"),
    "functions.getExecution": Route("functions.getExecution", "execution"),
    "functions.deleteExecution": Route("functions.deleteExecution", ""),
    "functions.listVariables": Route("functions.listVariables", "variableList"),
    "functions.createVariable": Route("functions.createVariable", "variable"),
    "functions.getVariable": Route("functions.getVariable", "variable"),
    "functions.updateVariable": Route("functions.updateVariable", "variable"),
    "functions.deleteVariable": Route("functions.deleteVariable", ""),
}

# Before 1.7.0 the rebuild route answered 204 (no body) and cancel answered the Build model.
LEGACY_MODELS: dict[str, str] = {
    "functions.createBuild": "none",
    "functions.createBuild.builds": "none",
    "functions.updateDeploymentBuild": "build",
}
