# Run by tests/judges/runner.py: its PRELUDE defines client, functions, call, emit, archive, wait_status, finish.
# appwrite 20.1.0 (format 1.9.5) against 1.9.6, or 27.0.0 (format 2.5.0) against Cloud 2.5.0: every Functions
# call they have; their pydantic models reject what does not match (20.1.0: a missing field).
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.enums.runtime import Runtime
from appwrite.enums.vcs_reference_type import VCSReferenceType
from appwrite.enums.template_reference_type import TemplateReferenceType
from appwrite.enums.deployment_download_type import DeploymentDownloadType

CLOUD = os.environ.get("JUDGE_CLOUD") == "1"
extra = {"description": "made by the judge", "interval": 30} if CLOUD else {}
call("create", "fn", "Fn", Runtime.PYTHON_3_12, execute=["any"], entrypoint="main.py", build_specification="s-1vcpu-1gb",
     runtime_specification="s-0.5vcpu-512mb", deployment_retention=7, provider_branches=["main"], **extra)
call("get", "fn")
call("list", [Query.limit(10), Query.equal("deploymentId", "")], "Fn", total=False)
call("update", "fn", "Fn2", Runtime.PYTHON_3_12, execute=["any"], entrypoint="main.py", build_specification="s-1vcpu-1gb",
     runtime_specification="s-0.5vcpu-512mb", deployment_retention=7, **({"email_enabled": True, "description": "d"} if CLOUD else {}))
try:
    call("list_runtimes")  # public since 1.7.0: the key is refused
except AppwriteException:
    call("list_runtimes", service=Functions(make_client(key=False)))
call("list_specifications")
key = "API_TOKEN"
variable = call("create_variable", "fn", "unique()", key, "v", secret=True, **({"description": "token"} if CLOUD else {}))
for index in range(30):
    functions.create_variable("fn", "unique()", f"K{index}", "x", secret=False)
call("list_variables", "fn", [Query.limit(100)])
call("get_variable", "fn", variable.id)
call("update_variable", "fn", variable.id, value="w")
deployment = call("create_deployment", "fn", InputFile.from_bytes(archive(), "code.tar.gz"), False)
emit("built", wait_status("fn", deployment.id))
call("list_deployments", "fn", [Query.equal("status", "ready"), Query.greater_than("sourceSize", 0)])
call("get_deployment", "fn", deployment.id)
call("update_function_deployment", "fn", deployment.id)
call("get_deployment_download", "fn", deployment.id, DeploymentDownloadType.SOURCE)
execution = call("create_execution", "fn", "ping")
call("list_executions", "fn", [Query.equal("deploymentId", deployment.id)])
call("get_execution", "fn", execution.id)
call("delete_execution", "fn", execution.id)
duplicate = call("create_duplicate_deployment", "fn", deployment.id)
call("update_deployment_status", "fn", duplicate.id)
call("create_vcs_deployment", "fn", VCSReferenceType.BRANCH, "main")
call("create_template_deployment", "fn", "templates", "appwrite", "node/starter", TemplateReferenceType.TAG, "0.1.0")
call("delete_variable", "fn", variable.id)
call("delete_deployment", "fn", deployment.id)
call("delete", "fn")
finish()
