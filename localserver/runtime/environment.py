"""The APPWRITE_* variables a build or an execution sees, as Appwrite 1.6.2 sets them.

Builds (`src/Appwrite/Platform/Workers/Builds.php`) and executions (`app/controllers/api/functions.php`)
give user code the same set: the function's variables first, then these, so a variable cannot override
them. Builds also get `APPWRITE_FUNCTION_API_KEY`, a dynamic key limited to the function's scopes and
valid for the build timeout, and at least 1024 MB of memory ("some runtimes can't compile with less").
"""

from __future__ import annotations

from typing import Any

from localserver.runtimes import runtime_model, specification_limits

Document = dict[str, Any]

BUILD_MEMORY_FLOOR = 1024  # MB, as Builds.php
DEFAULT_SPECIFICATION = "s-1vcpu-512mb"
# APPWRITE_VCS_<name> -> the deployment attribute it comes from (empty for uploads not from git).
VCS_FIELDS = {
    "REPOSITORY_ID": "providerRepositoryId",
    "REPOSITORY_NAME": "providerRepositoryName",
    "REPOSITORY_OWNER": "providerRepositoryOwner",
    "REPOSITORY_URL": "providerRepositoryUrl",
    "REPOSITORY_BRANCH": "providerBranch",
    "REPOSITORY_BRANCH_URL": "providerBranchUrl",
    "COMMIT_HASH": "providerCommitHash",
    "COMMIT_MESSAGE": "providerCommitMessage",
    "COMMIT_URL": "providerCommitUrl",
    "COMMIT_AUTHOR_NAME": "providerCommitAuthor",
    "COMMIT_AUTHOR_URL": "providerCommitAuthorUrl",
    "ROOT_DIRECTORY": "providerRootDirectory",
}


def limits(function: Document, *, build: bool = False) -> tuple[float, int]:
    """(cpus, memory MB) of the function's specification; builds get at least BUILD_MEMORY_FLOOR MB."""
    try:
        cpus, memory = specification_limits(function.get("specification") or DEFAULT_SPECIFICATION)
    except KeyError:
        cpus, memory = specification_limits(DEFAULT_SPECIFICATION)
    return cpus, max(memory, BUILD_MEMORY_FLOOR) if build else memory


def appwrite_variables(function: Document, deployment: Document, *, endpoint: str, project_id: str, version: str,
                       api_key: str | None = None) -> dict[str, str]:
    """APPWRITE_FUNCTION_*, APPWRITE_VERSION/REGION/DEPLOYMENT_TYPE and APPWRITE_VCS_*; the key only for builds."""
    model = runtime_model(function["runtime"]) if function.get("runtime") else {}
    cpus, memory = limits(function, build=api_key is not None)
    env = {"APPWRITE_FUNCTION_API_ENDPOINT": endpoint}
    if api_key is not None:
        env["APPWRITE_FUNCTION_API_KEY"] = api_key
    env.update({
        "APPWRITE_FUNCTION_ID": function["$id"],
        "APPWRITE_FUNCTION_NAME": str(function.get("name", "")),
        "APPWRITE_FUNCTION_DEPLOYMENT": deployment["$id"],
        "APPWRITE_FUNCTION_PROJECT_ID": project_id,
        "APPWRITE_FUNCTION_RUNTIME_NAME": str(model.get("name", "")),
        "APPWRITE_FUNCTION_RUNTIME_VERSION": str(model.get("version", "")),
        "APPWRITE_FUNCTION_CPUS": _number(cpus),
        "APPWRITE_FUNCTION_MEMORY": str(memory),
        "APPWRITE_VERSION": version,
        "APPWRITE_REGION": "default",
        "APPWRITE_DEPLOYMENT_TYPE": str(deployment.get("type", "")),
    })
    for name, field in VCS_FIELDS.items():
        env[f"APPWRITE_VCS_{name}"] = str(deployment.get(field, "") or "")
    return env


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def clean(env: dict[str, str]) -> dict[str, str]:
    """Drop what no process environment can hold (NUL bytes, `=` in names)."""
    return {k: v for k, v in env.items() if k and "\0" not in k and "=" not in k and "\0" not in v}
