"""Where user code runs: a private copy of its deployment outside the data dir, a scrubbed environment, its own
session, and a sandbox, so a function or its build never reaches the server's key, database or other functions.

Three modes, chosen once at start (`--sandbox`, env FNSYNC_SANDBOX, default `auto`):

- `bwrap`: bubblewrap with new user, PID, IPC, UTS and mount namespaces (the network is shared, so functions
  call the API over loopback). Only /usr, a few /etc files, the interpreter's prefix, the worker scripts and
  the deployment's own copy are visible; the process is an unprivileged user of its namespace without
  capabilities, and when its first process exits or is killed, the kernel kills everything left in it.
- `user`: when the server runs as root without a working bubblewrap, each function's code runs as its own
  unprivileged uid (like systemd's DynamicUser: no account is created; uids from UID_BASE, derived from the
  data dir and the function id). The data dir is 0700, copies are 0700 and owned by their function's uid, so
  neither the key, the database nor another function's copy can be opened; the parent's /proc entries belong
  to root. Daemons are found afterwards by uid.
- `none`: no isolation at all; logged loudly at start.

`auto` picks the first that works in that order. docs/sandbox.md explains how to check which one applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

from localserver import processes
from localserver.cgroups import CpuLimits
from localserver.context import ServerContext
from localserver.files import private_dir

logger = logging.getLogger("localserver.sandbox")

Mode = Literal["auto", "bwrap", "user", "none"]
MODES: tuple[str, ...] = ("auto", "bwrap", "user", "none")

UID_BASE = 2_000_000_000  # far above any real account (and below 2**31, which some tools treat as signed)
UID_SPAN = 100_000_000
SANDBOX_UID = 65534  # the user code's uid inside bubblewrap's user namespace
RUNTIME_SCRIPTS = Path(__file__).resolve().parent / "runtime"
WORKER_SCRIPTS = ("worker_python.py", "worker_node.mjs")
# What of /etc code may read: name resolution, certificates, time zone, the dynamic loader's cache.
ETC_FILES = ("resolv.conf", "hosts", "host.conf", "nsswitch.conf", "gai.conf", "ssl", "ca-certificates",
             "ca-certificates.conf", "pki", "localtime", "timezone", "mime.types", "ld.so.cache", "ld.so.conf",
             "ld.so.conf.d", "alternatives", "os-release", "debian_version", "passwd", "group")
HOST_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
PROBE_TIMEOUT = 10.0
OWNER_TAG = ".fnsync-owner"
DATA_DIR_NOTE = "data-dir"  # in a run root: the data dir it belongs to, so orphaned roots can be collected


class SandboxError(Exception):
    """The sandbox asked for cannot be used here; the message says why and what to do."""


def run_root_for(data_dir: Path) -> Path:
    """Copies of deployments live here: outside the data dir, one stable place per data dir."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()).resolve() / f"fnsync-run-{digest}"


def _host_layout() -> list[str]:
    """bubblewrap arguments for a read-only /usr world: /usr, the /bin-/lib links, /etc's harmless files."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in HOST_LINKS:
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def _bwrap_base() -> list[str]:
    bwrap = shutil.which("bwrap") or "bwrap"
    return [bwrap, "--unshare-all", "--share-net", "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--die-with-parent", "--new-session", *_host_layout(), "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]


def probe_bwrap() -> str | None:
    """None when bubblewrap runs a sandbox here, else why not."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    try:
        result = subprocess.run([*_bwrap_base(), "--", "/usr/bin/true"], capture_output=True, timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap did not run: {exc}"
    if result.returncode != 0:
        return "bwrap cannot create namespaces here: " + result.stderr.decode("utf-8", "replace").strip()
    return None


def choose_mode(requested: str) -> tuple[str, str]:
    """The mode to use and why; SandboxError when an explicitly requested mode cannot work."""
    if requested not in MODES:
        raise SandboxError(f"unknown sandbox {requested!r}; use one of {', '.join(MODES)}")
    if requested in ("auto", "bwrap"):
        problem = probe_bwrap()
        if problem is None:
            return "bwrap", "bubblewrap namespaces"
        if requested == "bwrap":
            raise SandboxError(f"--sandbox bwrap: {problem}. Install the Debian package `bubblewrap`, or use --sandbox auto.")
        if os.geteuid() == 0:
            return "user", f"{problem}; running user code as unprivileged uids instead"
        return "none", f"{problem}, and the server is not root, so it cannot switch users"
    if requested == "user":
        if os.geteuid() != 0:
            raise SandboxError("--sandbox user needs a server running as root (it runs user code as other uids).")
        return "user", "requested: unprivileged uids"
    return "none", "requested"


def _runtime_prefix(executable: str) -> Path | None:
    """The installation an interpreter needs (e.g. /root/.pyenv/versions/3.11.7); None when /usr holds it."""
    real = Path(os.path.realpath(executable))
    if real.is_relative_to("/usr"):
        return None
    prefix = real.parent.parent
    return prefix if prefix != Path("/") else real.parent


class Sandbox:
    """Runs user code in one mode; tracks every process it started so none outlives the server or a restart.

    `Sandbox()` with no data dir is a pass-through (no copies, no tracking): for tests of the executor alone.
    """

    def __init__(self, mode: str = "none", data_dir: Path | None = None, note: str = "") -> None:
        self.mode = mode
        self.note = note
        self.data_dir = data_dir
        self.root = run_root_for(data_dir) if data_dir is not None else None
        self._live: dict[int, int | None] = {}  # pid -> uid, of processes started and not yet reaped
        self._uids: set[int] = set()
        self._runnable: dict[tuple[str, int | None], bool] = {}
        self.cpu = CpuLimits(data_dir) if data_dir is not None else None

    # --- places ---------------------------------------------------------------------------------

    @property
    def lib_dir(self) -> Path:
        """Copies of the worker scripts, readable by every sandbox."""
        return self.root / "lib" if self.root is not None else RUNTIME_SCRIPTS

    def workdir(self, function_id: str, deployment_id: str) -> Path:
        """A deployment's private copy: `code/`, `venv/`, `bin/`, `home/`, `tmp/`. It outlives restarts (until
        the deployment or function is deleted, or the temporary folder is cleaned), like the data dir's copy."""
        assert self.root is not None
        return self.root / "functions" / function_id / deployment_id

    def function_dir(self, function_id: str) -> Path:
        assert self.root is not None
        return self.root / "functions" / function_id

    @property
    def _registry(self) -> Path | None:
        return self.data_dir / "children" if self.data_dir is not None else None

    # --- start and stop -------------------------------------------------------------------------

    def start(self) -> None:
        """Kill what a crashed run left behind, then lay out a fresh run root with the worker scripts."""
        if self.root is None:
            return
        self._kill_leftovers()
        if self.cpu is not None:
            self.cpu.remove_all()
        _collect_orphaned_roots(self.root.parent)
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        (self.root / DATA_DIR_NOTE).write_text(str(self.data_dir.resolve()) if self.data_dir else "")
        self.root.chmod(0o711)  # others may pass through to their own copy, never list
        lib = self.lib_dir
        shutil.rmtree(lib, ignore_errors=True)  # always this server's own worker scripts
        lib.mkdir(mode=0o755, exist_ok=True)
        for name in WORKER_SCRIPTS:
            shutil.copyfile(RUNTIME_SCRIPTS / name, lib / name)
            (lib / name).chmod(0o644)
        lib.chmod(0o755)
        for folder in (self.root / "functions",):
            folder.mkdir(mode=0o711, exist_ok=True)
            folder.chmod(0o711)
        if self.mode == "none":
            logger.warning("USER CODE IS NOT ISOLATED (%s): functions and builds run as the server's user and can "
                           "read its files. Install bubblewrap (Debian: apt-get install bubblewrap).", self.note)
        else:
            logger.info("user code sandbox: %s (%s)", self.mode, self.note)

    def stop(self) -> None:
        """Kill every process still tracked, then anything of ours that escaped (idempotent)."""
        for pid in list(self._live):
            processes.kill_tree(pid)
        self.sweep(everything=True)
        if self.cpu is not None:
            self.cpu.remove_all()

    def _kill_leftovers(self) -> None:
        """Processes a crashed server started (recorded in DATA/children) die before anything new starts."""
        registry = self._registry
        if registry is None or not registry.is_dir():
            return
        uids: set[int] = set()
        for entry in registry.glob("*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                record = json.loads(entry.read_text())
                info = processes.read_proc(int(record["pid"]))
                if info is not None and info.start == int(record["start"]):
                    processes.kill_tree(info.pid)
                if record.get("uid") is not None:
                    uids.add(int(record["uid"]))
            entry.unlink(missing_ok=True)
        self._uids |= uids
        self.sweep(everything=True)

    # --- users and files ------------------------------------------------------------------------

    def uid(self, function_id: str) -> int | None:
        """The uid a function's code runs as (user mode only)."""
        if self.mode != "user" or self.data_dir is None:
            return None
        digest = hashlib.sha256(f"{self.data_dir.resolve()}\0{function_id}".encode()).digest()
        return UID_BASE + int.from_bytes(digest[:8], "big") % UID_SPAN

    def _owner_tag(self, function_id: str) -> str:
        return f"{self.mode}:{self.uid(function_id)}"

    def hand_over(self, path: Path, function_id: str) -> None:
        """Make a copy private to its function: 0700, and owned by the function's uid in user mode.

        A tag file records for which mode and uid it was prepared, so a copy left by a server that ran in
        another mode is made again rather than used with the wrong owner."""
        path.chmod(0o700)
        (path / OWNER_TAG).write_text(self._owner_tag(function_id))
        uid = self.uid(function_id)
        if uid is None:
            return
        for folder, dirs, files in os.walk(path):
            os.chown(folder, uid, uid, follow_symlinks=False)
            for name in [*dirs, *files]:
                os.chown(os.path.join(folder, name), uid, uid, follow_symlinks=False)

    def _usable(self, workdir: Path, function_id: str) -> bool:
        try:
            return (workdir / "code").is_dir() and (workdir / OWNER_TAG).read_text() == self._owner_tag(function_id)
        except OSError:
            return False

    def can_run(self, executable: str, function_id: str) -> bool:
        """Whether the function's user can execute this interpreter (user mode: /root may be closed to it)."""
        uid = self.uid(function_id)
        key = (executable, uid)
        if key not in self._runnable:
            options: dict[str, Any] = {"user": uid, "group": uid, "extra_groups": []} if uid is not None else {}
            try:
                result = subprocess.run([executable, "--version"], capture_output=True, timeout=PROBE_TIMEOUT, check=False,
                                        cwd="/", **options)
                self._runnable[key] = result.returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                self._runnable[key] = False
        return self._runnable[key]

    def materialize(self, function_id: str, deployment_id: str, persisted: Path) -> Path:
        """The deployment's private copy, made from the data dir's copy if it is not there yet."""
        workdir = self.workdir(function_id, deployment_id)
        if self._usable(workdir, function_id):
            return workdir
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.parent.mkdir(parents=True, exist_ok=True)
        self.function_dir(function_id).chmod(0o711)
        staging = Path(tempfile.mkdtemp(prefix=f".{deployment_id}-", dir=workdir.parent))
        try:
            for part in ("code", "venv", "bin"):
                if (persisted / part).exists():
                    shutil.copytree(persisted / part, staging / part, symlinks=True)
            for part in ("home", "tmp"):
                (staging / part).mkdir()
            self.hand_over(staging, function_id)
            os.rename(staging, workdir)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
            if not self._usable(workdir, function_id):  # else: a concurrent execution made it first
                raise
        return workdir

    # --- running --------------------------------------------------------------------------------

    def environment(self, workdir: Path) -> dict[str, str]:
        """HOME and TMPDIR inside the copy: never the server's."""
        return {"HOME": str(workdir / "home"), "TMPDIR": str(workdir / "tmp")}

    def wrap(self, argv: list[str], *, workdir: Path, cwd: Path, executables: Iterable[str] = (),
             memory_mb: int | None = None, cpus: float | None = None, cpu_group: str = "",
             function_id: str = "") -> list[str]:
        """The command line that runs `argv` in the sandbox, seeing `workdir` (read-write) and little else,
        with at most `memory_mb` of data memory per process (RLIMIT_DATA; see `limited`) and, where cgroups
        allow, `cpus` CPUs shared by everything in `cpu_group` (localserver.cgroups)."""
        command = limited(self._sandboxed(argv, workdir=workdir, cwd=cwd, executables=executables), memory_mb)
        if self.cpu is None or not cpus or not cpu_group:
            return command
        return self.cpu.wrap(command, self.cpu.group(cpu_group, cpus, owner=self.uid(function_id)))

    def _sandboxed(self, argv: list[str], *, workdir: Path, cwd: Path, executables: Iterable[str]) -> list[str]:
        if self.mode != "bwrap":
            return argv
        args = _bwrap_base()
        for executable in executables:
            prefix = _runtime_prefix(executable)
            if prefix is None:
                continue
            if self.data_dir is not None and self.data_dir.resolve().is_relative_to(prefix):
                logger.warning("not exposing %s to user code: it contains the data dir", prefix)
                continue
            args += ["--ro-bind", str(prefix), str(prefix)]
        args += ["--ro-bind", str(self.lib_dir), str(self.lib_dir), "--bind", str(workdir), str(workdir),
                 "--chdir", str(cwd), "--"]
        return args + argv

    async def spawn(self, argv: list[str], *, function_id: str, cwd: Path, env: dict[str, str],
                    **options: Any) -> asyncio.subprocess.Process:
        """Start a process of user code in its own session (as the function's uid in user mode), tracked."""
        uid = self.uid(function_id)
        if uid is not None:
            options.update(user=uid, group=uid, extra_groups=[])
            self._uids.add(uid)
        proc = await asyncio.create_subprocess_exec(*argv, cwd=str(cwd), env=env, start_new_session=True, umask=0o077,
                                                    **options)
        self._track(proc.pid, uid)
        return proc

    async def kill(self, proc: asyncio.subprocess.Process) -> None:
        """Kill a process started by `spawn` with all its descendants, reap it, then sweep escapees. Idempotent."""
        await processes.kill_and_reap(proc)
        self._untrack(proc.pid)
        self.sweep()

    def forget(self, proc: asyncio.subprocess.Process) -> None:
        """A process that ended by itself: stop tracking it, and sweep what it may have left behind."""
        self._untrack(proc.pid)
        self.sweep()

    def sweep(self, everything: bool = False) -> int:
        """Kill our escapees: processes of our uids (user mode) or working inside our copies whose ancestry
        reaches no process we still track (all of them with `everything`). Returns how many were killed."""
        if self.root is None or (self.mode == "bwrap" and not everything):
            return 0  # bubblewrap: the kernel kills a namespace's processes with its first one
        # At start and stop, bubblewrap too: a SIGKILLed server's sandbox does not always die with it
        # (--die-with-parent races), and its inner processes are not under the recorded pid.
        table = processes.process_table()
        me = os.getpid()
        # The server's own children are spared: one may be between its fork and `_track`.
        roots = set() if everything else {*self._live, me}
        doomed = []
        for info in table.values():
            if info.zombie or info.pid == me or processes.has_ancestor(info.pid, roots, table):
                continue
            if info.uid in self._uids or self._works_in_copies(info.pid):
                doomed.append(info.pid)
        processes.signal_pids(doomed)
        return len(doomed)

    def _works_in_copies(self, pid: int) -> bool:
        assert self.root is not None
        try:
            return Path(os.readlink(f"/proc/{pid}/cwd")).is_relative_to(self.root)
        except OSError:
            return False

    def _track(self, pid: int, uid: int | None) -> None:
        self._live[pid] = uid
        registry = self._registry
        info = processes.read_proc(pid)
        if registry is None or info is None:
            return
        private_dir(registry)
        path = registry / f"{pid}.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"pid": pid, "start": info.start, "uid": uid}, handle)

    def _untrack(self, pid: int) -> None:
        self._live.pop(pid, None)
        if self._registry is not None:
            (self._registry / f"{pid}.json").unlink(missing_ok=True)


def _collect_orphaned_roots(parent: Path) -> None:
    """Remove the copies of servers whose data dir is gone (e.g. tests' temporary folders): nothing can use them."""
    for root in parent.glob("fnsync-run-*"):
        try:
            data_dir = (root / DATA_DIR_NOTE).read_text().strip()
        except OSError:
            continue
        if data_dir and not Path(data_dir).exists():
            shutil.rmtree(root, ignore_errors=True)


def limited(argv: list[str], memory_mb: int | None) -> list[str]:
    """`argv` under util-linux `prlimit --data`: the specification's memory as RLIMIT_DATA (heap and other private
    writable memory of each process; a larger allocation fails with MemoryError / "allocation failed"). RLIMIT_AS
    would be wrong: V8 reserves far more address space than it uses. Unlimited when prlimit is missing."""
    prlimit = shutil.which("prlimit")
    if not memory_mb or prlimit is None:
        return argv
    size = memory_mb * 1024 * 1024
    return [prlimit, f"--data={size}:{size}", "--", *argv]


def create(requested: str, data_dir: Path) -> Sandbox:
    """The sandbox for a server on `data_dir` (SandboxError when `requested` cannot work here)."""
    mode, note = choose_mode(requested)
    return Sandbox(mode, data_dir, note)


@asynccontextmanager
async def running(ctx: ServerContext) -> AsyncIterator[Sandbox]:
    """The app's sandbox (`ctx.services["sandbox"]`): leftovers killed on enter, every process killed on exit."""
    sandbox = create(ctx.config.sandbox, ctx.config.data_dir)
    await asyncio.to_thread(sandbox.start)
    ctx.services["sandbox"] = sandbox
    try:
        yield sandbox
    finally:
        sandbox.stop()
        ctx.services.pop("sandbox", None)
