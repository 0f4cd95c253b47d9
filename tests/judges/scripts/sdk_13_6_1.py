# Run by tests/judges/runner.py: its PRELUDE defines client, functions, call, emit, archive, wait_status, finish.
# appwrite 13.6.1 (format 1.8.0) against 1.8.1: every Functions call it has.
from appwrite.input_file import InputFile
from appwrite.query import Query
from appwrite.enums.vcs_deployment_type import VCSDeploymentType

call("create", "fn", "Fn", "python-3.12", execute=["any"], entrypoint="main.py", specification="s-1vcpu-1gb")
call("get", "fn")
call("list", [Query.limit(10)], "Fn", total=False)
call("update", "fn", "Fn2", "python-3.12", execute=["any"], entrypoint="main.py", specification="s-1vcpu-1gb")
try:
    call("list_runtimes")  # public since 1.7.0: the key is refused
except AppwriteException:
    call("list_runtimes", service=Functions(make_client(key=False)))
call("list_specifications")
variable = call("create_variable", "fn", "K", "v", secret=True)
call("list_variables", "fn")
call("get_variable", "fn", variable["$id"])
call("update_variable", "fn", variable["$id"], "K", "w")
deployment = call("create_deployment", "fn", InputFile.from_bytes(archive(), "code.tar.gz"), False)
emit("built", wait_status("fn", deployment["$id"]))
call("list_deployments", "fn", [Query.equal("type", "manual")], total=True)
call("get_deployment", "fn", deployment["$id"])
call("update_function_deployment", "fn", deployment["$id"])
call("get_deployment_download", "fn", deployment["$id"])
execution = call("create_execution", "fn", "ping")
call("list_executions", "fn")
call("get_execution", "fn", execution["$id"])
call("delete_execution", "fn", execution["$id"])
duplicate = call("create_duplicate_deployment", "fn", deployment["$id"])
call("update_deployment_status", "fn", duplicate["$id"])
call("create_vcs_deployment", "fn", VCSDeploymentType.BRANCH, "main")
try:
    call("create_template_deployment", "fn", "templates", "appwrite", "node/starter", "0.1.0")
except AppwriteException:
    pass  # 1.8.1 wants type + reference and has no filter for the 1.8.0 `version` yet
call("delete_variable", "fn", variable["$id"])
call("delete_deployment", "fn", deployment["$id"])
call("delete", "fn")
finish()
