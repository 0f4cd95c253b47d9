"""Watch mode against the real local server, with real files in a temp folder and real file events.

The watch loop runs in-process as an asyncio task stopped by an event. Nothing sleeps to synchronise:
tests poll the server (or the watcher's reports) with deadlines, and `Watcher.settled()` is the barrier
that proves every file event seen so far was handled before a "nothing happened" assertion.
"""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner

from syncer.cli import cli
from syncer.client import AppwriteClient
from syncer.manifest import load_manifest
from syncer.watch import Cycle, DeploySettings, InvokeSpec, Lanes, Note, Outcome, Watcher, WatchOptions
from syncer.watch.paths import FileIndex, is_noise
from tests.conftest import LocalServer, start_local_server
from tests.helpers import async_wait_until

pytestmark = pytest.mark.slow

TIMEOUT = 20.0

MANIFEST = """\
version: 1
functions:
  alpha:
    name: Alpha
    runtime: python-3.11
    path: alpha
    entrypoint: main.py
    execute: [any]
    ignore: ["*.log"]
    include: [shared]
  beta:
    name: Beta
    runtime: python-3.11
    path: beta
    entrypoint: main.py
    variables:
      GREETING: ${GREETING:-none}
"""


def source(text: str) -> str:
    return f"def main(context):\n    return context.res.text({text!r})\n"


def make_project(root: Path, manifest: str = MANIFEST) -> Path:
    for fid in ("alpha", "beta"):
        (root / fid).mkdir(parents=True)
        (root / fid / "main.py").write_text(source(f"{fid} v0"))
    (root / "shared").mkdir()
    (root / "shared" / "util.py").write_text("X = 1\n")
    (root / "functions.yaml").write_text(manifest)
    return root / "functions.yaml"


@dataclass
class Running:
    watcher: Watcher
    client: AppwriteClient
    root: Path

    async def active(self, fid: str) -> str:
        fn = await self.client.get_function(fid)
        return fn.deployment if fn else ""

    async def deployment_count(self, fid: str) -> int:
        return len(await self.client.list_deployments(fid))

    async def active_file(self, fid: str, name: str) -> str | None:
        """A file's text inside the active deployment's archive, as the server stores it."""
        active = await self.active(fid)
        if not active:
            return None
        data = await self.client.download_deployment(fid, active)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            try:
                member = tar.extractfile(name)
            except KeyError:
                return None
            return member.read().decode() if member else None

    async def wait_live(self, fid: str, name: str, text: str) -> None:
        async def live() -> bool:
            return await self.active_file(fid, name) == text

        await async_wait_until(live, timeout=TIMEOUT, interval=0.05, what=f"{fid}/{name} live")

    async def timeout_is(self, fid: str, timeout: int) -> bool:
        fn = await self.client.get_function(fid)
        return fn is not None and fn.timeout == timeout

    async def variable_is(self, fid: str, key: str, value: str) -> bool:
        return any(v.key == key and v.value == value for v in await self.client.list_variables(fid))

    def cycles_for(self, fid: str) -> list[Cycle]:
        return [c for c in self.watcher.cycles if c.function_id == fid]


async def start_watch(
    server: LocalServer, manifest_path: Path, deploy: DeploySettings | None = None
) -> tuple[Running, asyncio.Event, asyncio.Task[None]]:
    client = AppwriteClient(server.endpoint, server.project, server.api_key)
    watcher = Watcher(load_manifest(manifest_path, environ={}), client, environ={}, deploy=deploy, options=WatchOptions())
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.wait_for(watcher.ready.wait(), TIMEOUT)
    return Running(watcher, client, manifest_path.parent), stop, task


# One server and one watch for the scenario tests below (a server start plus the first builds cost seconds):
# they run in file order on one event loop, each starts from a settled watcher and leaves the manifest as it was.
shared = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    server, uvicorn_runner = start_local_server(tmp_path_factory.mktemp("server-data"))
    manifest_path = make_project(tmp_path_factory.mktemp("watched") / "project")
    run, stop, task = await start_watch(server, manifest_path)
    try:
        yield run
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        await run.client.aclose()
        uvicorn_runner.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def watched(running: Running) -> AsyncIterator[Running]:
    """The shared watch, settled before the test; afterwards the manifest must be the original again."""
    await running.watcher.settled()
    yield running
    assert (running.root / "functions.yaml").read_text() == MANIFEST


# -- against the local server ----------------------------------------------------------------------------------------


@shared
async def test_start_deploys_everything(watched: Running) -> None:
    await watched.wait_live("alpha", "main.py", source("alpha v0"))
    await watched.wait_live("beta", "main.py", source("beta v0"))
    assert await watched.active_file("alpha", "shared/util.py") == "X = 1\n"


@shared
async def test_edit_makes_a_new_deployment_active(watched: Running) -> None:
    before = await watched.active("alpha")
    (watched.root / "alpha" / "main.py").write_text(source("alpha v1"))
    await watched.wait_live("alpha", "main.py", source("alpha v1"))
    after = await watched.active("alpha")
    assert after != before
    await watched.watcher.settled()
    deployed = [c for c in watched.cycles_for("alpha") if c.outcome is Outcome.DEPLOYED and c.deployment_id == after]
    assert deployed and "main.py" in deployed[0].changed
    assert deployed[0].total_seconds is not None and deployed[0].build_seconds is not None
    assert "main.py" in deployed[0].line() and after in deployed[0].line()


@shared
async def test_edit_in_an_included_folder_redeploys(watched: Running) -> None:
    (watched.root / "shared" / "util.py").write_text("X = 2\n")
    await watched.wait_live("alpha", "shared/util.py", "X = 2\n")


@shared
async def test_editing_two_functions_redeploys_both(watched: Running) -> None:
    before = {fid: await watched.active(fid) for fid in ("alpha", "beta")}
    (watched.root / "alpha" / "main.py").write_text(source("alpha v2"))
    (watched.root / "beta" / "main.py").write_text(source("beta v2"))
    await watched.wait_live("alpha", "main.py", source("alpha v2"))
    await watched.wait_live("beta", "main.py", source("beta v2"))
    assert [await watched.active(fid) != before[fid] for fid in before] == [True, True]


@shared
async def test_ignored_files_deploy_nothing(watched: Running) -> None:
    alpha = watched.root / "alpha"
    (alpha / "debug.log").write_text("ignored by the manifest\n")
    (alpha / ".main.py.swp").write_text("vim swap\n")
    (alpha / "main.py~").write_text("backup\n")
    (alpha / ".fnsync").mkdir()
    (alpha / ".fnsync" / "state").write_text("fnsync's own\n")
    (alpha / ".gitignore").write_text("secret.txt\n")  # this one is archived, so it deploys once...
    await watched.wait_live("alpha", ".gitignore", "secret.txt\n")
    await watched.watcher.settled()
    count = await watched.deployment_count("alpha")
    cycles = len(watched.cycles_for("alpha"))
    (alpha / "secret.txt").write_text("...and what it ignores is not\n")
    (alpha / "debug.log").write_text("still ignored\n")
    # A real edit elsewhere as a barrier: once it is live and the watcher settled, every earlier event was handled.
    (watched.root / "beta" / "main.py").write_text(source("beta barrier"))
    await watched.wait_live("beta", "main.py", source("beta barrier"))
    await watched.watcher.settled()
    assert await watched.deployment_count("alpha") == count
    assert len(watched.cycles_for("alpha")) == cycles


@shared
async def test_touch_without_content_change_deploys_nothing(watched: Running) -> None:
    await watched.watcher.settled()
    count = await watched.deployment_count("alpha")
    main = watched.root / "alpha" / "main.py"
    main.write_text(main.read_text())  # an editor saving an unchanged buffer
    os.utime(main)

    def unchanged() -> bool:
        return any(c.outcome is Outcome.UNCHANGED and "main.py" in c.changed for c in watched.cycles_for("alpha"))

    async def seen() -> bool:
        return unchanged()

    await async_wait_until(seen, timeout=TIMEOUT, what="the watcher to look at the touched file")
    await watched.watcher.settled()
    assert await watched.deployment_count("alpha") == count


@shared
async def test_burst_of_saves_yields_at_most_two_deploys_and_the_last_is_live(watched: Running) -> None:
    await watched.watcher.settled()
    count = await watched.deployment_count("alpha")
    main = watched.root / "alpha" / "main.py"
    for i in range(1, 21):
        main.write_text(source(f"alpha burst {i}"))
    await watched.wait_live("alpha", "main.py", source("alpha burst 20"))
    await watched.watcher.settled()
    assert await watched.active_file("alpha", "main.py") == source("alpha burst 20")
    assert 1 <= await watched.deployment_count("alpha") - count <= 2


@shared
async def test_broken_manifest_is_reported_then_fixed_without_restart(watched: Running) -> None:
    writes = watched.client.stats.writes
    live_before = await watched.active_file("alpha", "main.py")
    manifest = watched.root / "functions.yaml"
    broken = MANIFEST.replace("    entrypoint: main.py\n    execute", "    entrypoint: main.py\n    timeout: soon\n    execute", 1)
    manifest.write_text(broken)
    line = broken.splitlines().index("    timeout: soon") + 1

    async def reported() -> bool:
        return bool(watched.watcher.manifest_errors)

    await async_wait_until(reported, timeout=TIMEOUT, what="the manifest error")
    message = watched.watcher.manifest_errors[-1].message
    assert f"functions.yaml:{line}:" in message and "timeout" in message
    # Code edits while the manifest is broken are held, not sent.
    (watched.root / "alpha" / "main.py").write_text(source("alpha while broken"))
    await async_wait_until(lambda: _async("alpha" in watched.watcher.held), timeout=TIMEOUT, what="the held change")
    await watched.watcher.settled()
    assert watched.client.stats.writes == writes
    assert await watched.active_file("alpha", "main.py") == live_before

    manifest.write_text(broken.replace("timeout: soon", "timeout: 42"))
    await async_wait_until(lambda: watched.timeout_is("alpha", 42), timeout=TIMEOUT, what="the fixed manifest applied")
    await watched.wait_live("alpha", "main.py", source("alpha while broken"))
    assert not watched.watcher.broken
    manifest.write_text(MANIFEST)
    await async_wait_until(lambda: watched.timeout_is("alpha", 15), timeout=TIMEOUT, what="the original manifest back")


@shared
async def test_env_change_updates_a_variable(watched: Running) -> None:
    env = watched.root / ".env"
    env.write_text("GREETING=hola\n")
    await async_wait_until(lambda: watched.variable_is("beta", "GREETING", "hola"), timeout=TIMEOUT, what="the value from .env")
    env.unlink()
    await async_wait_until(lambda: watched.variable_is("beta", "GREETING", "none"), timeout=TIMEOUT, what="the default back")


@shared
async def test_failed_build_is_reported_and_watch_goes_on(watched: Running) -> None:
    good = await watched.active("alpha")
    manifest = watched.root / "functions.yaml"
    manifest.write_text(MANIFEST.replace("    entrypoint: main.py\n    execute", "    entrypoint: main.py\n    commands: exit 3\n    execute", 1))

    async def failed() -> bool:
        return any(c.outcome is Outcome.FAILED for c in watched.cycles_for("alpha"))

    await async_wait_until(failed, timeout=TIMEOUT, what="the failed build")
    cycle = next(c for c in watched.cycles_for("alpha") if c.outcome is Outcome.FAILED)
    assert "exit code 3" in cycle.build_logs and cycle.deployment_id
    assert await watched.active("alpha") == good
    manifest.write_text(MANIFEST)
    (watched.root / "alpha" / "main.py").write_text(source("alpha after failure"))
    await watched.wait_live("alpha", "main.py", source("alpha after failure"))


async def test_invoke_after_deploy(local_server: LocalServer, tmp_path: Path) -> None:
    manifest_path = make_project(tmp_path / "project")
    run, stop, task = await start_watch(local_server, manifest_path, DeploySettings(invoke=InvokeSpec.parse("GET /hi")))
    try:
        (manifest_path.parent / "alpha" / "main.py").write_text(source("invoked v1"))

        async def invoked() -> bool:
            return any(c.invocation and c.invocation.body == "invoked v1" for c in run.cycles_for("alpha"))

        await async_wait_until(invoked, timeout=TIMEOUT, what="the invocation")
        invocation = next(c.invocation for c in run.cycles_for("alpha") if c.invocation and c.invocation.body == "invoked v1")
        assert invocation.status_code == 200 and "200" in invocation.line()
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)
        await run.client.aclose()


async def _async(value: bool) -> bool:
    return value


# -- pieces, no server -----------------------------------------------------------------------------------------------


async def test_lane_runs_once_more_with_everything_that_piled_up() -> None:
    gate = asyncio.Event()
    seen: list[set[str]] = []

    async def runner(key: str, note: Note) -> None:
        seen.append(set(note.paths))
        if len(seen) == 1:
            await gate.wait()

    lanes = Lanes(runner)
    lanes.request("f", Note(paths={"a"}))
    await async_wait_until(lambda: _async(len(seen) == 1), what="first run")
    for name in ("b", "c", "d"):
        lanes.request("f", Note(paths={name}))
    assert lanes.busy("f") and lanes.pending("f")
    gate.set()
    await lanes.wait_idle()
    assert seen == [{"a"}, {"b", "c", "d"}]
    assert lanes.runs == {"f": 2}


async def test_lanes_are_serial_per_key_and_parallel_across_keys() -> None:
    running: dict[str, int] = {}
    peak: dict[str, int] = {}
    both = asyncio.Event()

    async def runner(key: str, note: Note) -> None:
        running[key] = running.get(key, 0) + 1
        peak[key] = max(peak.get(key, 0), running[key])
        if len([k for k, n in running.items() if n]) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 5)
        running[key] -= 1

    lanes = Lanes(runner)
    for _ in range(3):
        lanes.request("x")
        lanes.request("y")
    await lanes.wait_idle()
    assert peak == {"x": 1, "y": 1}
    assert lanes.runs == {"x": 1, "y": 1}


async def test_lane_close_abandons_a_run_after_the_grace_period() -> None:
    started = asyncio.Event()

    async def runner(key: str, note: Note) -> None:
        started.set()
        await asyncio.Event().wait()

    lanes = Lanes(runner)
    lanes.request("slow")
    await started.wait()
    lanes.request("slow")  # queued behind: dropped at close
    assert await lanes.close(grace=0.05) == ["slow"]
    lanes.request("slow")
    assert not lanes.busy("slow")


async def test_lane_close_lets_a_quick_run_finish() -> None:
    release = asyncio.Event()
    finished: list[str] = []

    async def runner(key: str, note: Note) -> None:
        await release.wait()
        finished.append(key)

    lanes = Lanes(runner)
    lanes.request("quick")
    await asyncio.sleep(0)
    closing = asyncio.create_task(lanes.close(grace=10))
    release.set()
    assert await closing == []
    assert finished == ["quick"]


async def test_a_crashing_run_is_reported_and_the_lane_keeps_going() -> None:
    errors: list[str] = []
    calls = 0

    async def runner(key: str, note: Note) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            lanes.request(key)
            raise RuntimeError("boom")

    lanes = Lanes(runner, on_error=lambda key, exc: errors.append(f"{key}: {exc}"))
    lanes.request("f")
    await lanes.wait_idle()
    assert errors == ["f: boom"] and calls == 2


def test_note_describe_and_merge() -> None:
    note = Note(paths={"b.py"}, first_seen=5.0, last_saved=5.0)
    note.merge(Note(paths={"a.py", "c.py"}, reasons={"manifest"}, first_seen=3.0, last_saved=7.0))
    assert note.describe() == "manifest, a.py +2 more"
    assert (note.first_seen, note.last_saved) == (3.0, 7.0)
    assert Note().describe() == "changed"


def test_file_index_maps_changes_with_the_packagers_rules(tmp_path: Path) -> None:
    manifest_path = make_project(tmp_path)
    (tmp_path / "alpha" / "notes.log").write_text("x")
    (tmp_path / "alpha" / "sub").mkdir()
    (tmp_path / "alpha" / "sub" / "x.py").write_text("x")
    index = FileIndex(load_manifest(manifest_path, environ={}), ["alpha", "beta"])
    assert set(index.watch_roots()) == {(tmp_path / d).resolve() for d in ("alpha", "beta", "shared")}
    alpha = (tmp_path / "alpha").resolve()
    assert index.map_changes([alpha / "notes.log"]) == {}
    assert index.map_changes([alpha / "main.py"]) == {"alpha": {"main.py": alpha / "main.py"}}
    shared = (tmp_path / "shared" / "util.py").resolve()
    assert index.map_changes([shared]) == {"alpha": {"shared/util.py": shared}}
    new = alpha / "new.py"
    new.write_text("y")
    assert index.map_changes([new]) == {"alpha": {"new.py": new}}
    new.unlink()
    assert index.map_changes([new]) == {"alpha": {"new.py": new}}  # a deletion counts too
    (alpha / "sub" / "x.py").unlink()
    (alpha / "sub").rmdir()
    assert index.map_changes([alpha / "sub"]) == {"alpha": {"sub/x.py": alpha / "sub" / "x.py"}}
    assert index.map_changes([tmp_path / "elsewhere.py"]) == {}


@pytest.mark.parametrize(
    ("path", "noise"),
    [
        ("/p/alpha/main.py", False),
        ("/p/alpha/.git/index", True),
        ("/p/alpha/.fnsync/local/db", True),
        ("/p/alpha/.main.py.swp", True),
        ("/p/alpha/main.py~", True),
        ("/p/alpha/4913", True),
        ("/p/alpha/main.py___jb_tmp___", True),
        ("/p/alpha/__pycache__/main.cpython-311.pyc", True),
    ],
)
def test_noise_filter(path: str, noise: bool) -> None:
    assert is_noise(path) is noise


@pytest.mark.parametrize(
    ("text", "method", "path"),
    [("GET /", "GET", "/"), ("post /api?x=1", "POST", "/api?x=1"), ("/health", "GET", "/health")],
)
def test_invoke_spec_parses(text: str, method: str, path: str) -> None:
    assert InvokeSpec.parse(text) == InvokeSpec(method=method, path=path)


@pytest.mark.parametrize("text", ["", "GET", "GET nope", "FETCH /", "GET / extra"])
def test_invoke_spec_rejects_bad_input(text: str) -> None:
    with pytest.raises(ValueError):
        InvokeSpec.parse(text)


def test_cli_rejects_bad_invoke_and_unknown_target(tmp_path: Path) -> None:
    manifest_path = make_project(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["watch", "-f", str(manifest_path), "--invoke", "FETCH /"])
    assert result.exit_code == 1 and "--invoke" in result.output
    result = runner.invoke(cli, ["watch", "-f", str(manifest_path), "--target", "nope"])
    assert result.exit_code == 1 and "nope" in result.output
    assert not (tmp_path / ".fnsync").exists()  # refused before any server was started


def test_cli_rejects_an_invalid_manifest(tmp_path: Path) -> None:
    manifest_path = make_project(tmp_path, MANIFEST.replace("timeout", "x").replace("runtime: python-3.11\n    path: beta", "path: beta"))
    result = CliRunner().invoke(cli, ["watch", "-f", str(manifest_path)])
    assert result.exit_code == 1 and "functions.yaml:" in result.output
