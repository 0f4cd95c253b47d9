# Run by tests/judges/runner.py: its PRELUDE defines client, functions, call, emit, archive, wait_status, finish.
# appwrite 7.1.0 (format 1.6.0) against 1.6.2: every Functions call it has.
from appwrite.input_file import InputFile
from appwrite.query import Query

call("create", "fn", "Fn", "python-3.12", execute=["any"], entrypoint="main.py", timeout=20)
call("get", "fn")
call("list", [Query.limit(10)], "Fn")
call("update", "fn", "Fn2", "python-3.12", execute=["any"], entrypoint="main.py", specification="s-1vcpu-1gb")
call("list_runtimes")
call("list_specifications")
variable = call("create_variable", "fn", "K", "v")
call("list_variables", "fn")
call("get_variable", "fn", variable["$id"])
call("update_variable", "fn", variable["$id"], "K", "w")
call("delete_variable", "fn", variable["$id"])
deployment = call("create_deployment", "fn", InputFile.from_bytes(archive(), "code.tar.gz"), False)
emit("built", wait_status("fn", deployment["$id"]))
call("list_deployments", "fn", [Query.equal("activate", False)])
call("get_deployment", "fn", deployment["$id"])
call("update_deployment", "fn", deployment["$id"])
call("get_deployment_download", "fn", deployment["$id"])
execution = call("create_execution", "fn", "ping")
call("list_executions", "fn")
call("get_execution", "fn", execution["$id"])
call("delete_execution", "fn", execution["$id"])
call("create_build", "fn", deployment["$id"])
latest = functions.list_deployments("fn")["deployments"][-1]
call("update_deployment_build", "fn", latest["$id"])
call("delete_deployment", "fn", deployment["$id"])
call("delete", "fn")
finish()
