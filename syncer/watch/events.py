"""What the watch loop tells its caller: plain data, rendered to one concise line each by `line()`.

The core never prints; the CLI hands a callback that prints these through its `Terminal`, and tests
collect them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from rich.markup import escape


class Outcome(StrEnum):
    DEPLOYED = "deployed"  # new code is live (maybe with settings/variables changed too)
    UPDATED = "updated"  # settings or variables changed, no new code
    UNCHANGED = "unchanged"  # the tree hashes the same as what runs: nothing sent
    FAILED = "failed"  # the build failed: the previous deployment stays active
    ERROR = "error"  # the server or the packager refused; watch goes on


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Invocation(Frozen):
    """The result of `--invoke` after a successful deploy."""

    method: str
    path: str
    status_code: int = 0
    body: str = ""
    status: str = ""  # the execution's status (completed/failed)
    error: str = ""  # transport or API error text

    def line(self, limit: int = 200) -> str:
        if self.error:
            return f"  [red]invoke {self.method} {escape(self.path)} failed:[/red] {escape(self.error)}"
        body = self.body.strip().replace("\n", "\\n")
        if len(body) > limit:
            body = body[:limit] + "…"
        color = "green" if 200 <= self.status_code < 400 else "red"
        return f"  {self.method} {escape(self.path)} → [{color}]{self.status_code}[/{color}] {escape(body)}"


class Cycle(Frozen):
    """One function, one cycle: what changed, what happened, how long it took."""

    function_id: str
    changed: str  # short text: "main.py, lib/a.py +2 more" or "manifest"
    outcome: Outcome
    deployment_id: str = ""
    build_seconds: float | None = None  # the server's build time
    total_seconds: float | None = None  # newest save → live (wall clock)
    detail: str = ""  # settings/variables changed, or the error
    build_logs: str = ""  # for a failed build
    invocation: Invocation | None = None

    def line(self) -> str:
        fid = f"[bold]{escape(self.function_id)}[/bold]"
        what = escape(self.changed)
        if self.outcome is Outcome.DEPLOYED:
            times = []
            if self.build_seconds is not None:
                times.append(f"build {self.build_seconds:.2f}s")
            if self.total_seconds is not None:
                times.append(f"save→live {self.total_seconds:.2f}s")
            extra = f" (+ {escape(self.detail)})" if self.detail else ""
            return f"[green]✓[/green] {fid} {what} → {self.deployment_id}{extra}  {', '.join(times)}"
        if self.outcome is Outcome.UPDATED:
            return f"[green]✓[/green] {fid} {what} → {escape(self.detail or 'settings updated')}"
        if self.outcome is Outcome.UNCHANGED:
            return f"[dim]= {escape(self.function_id)} {what}: no change (same code)[/dim]"
        if self.outcome is Outcome.FAILED:
            return f"[red]✗[/red] {fid} {what} → build of {self.deployment_id} failed; previous deployment stays active"
        return f"[red]✗[/red] {fid} {what}: {escape(self.detail)}"


class ManifestReloaded(Frozen):
    """The manifest or `.env` changed and is valid again; `changed` are the function IDs it touched."""

    changed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # no longer in the manifest: left alone, watch never prunes
    watched_roots_changed: bool = False
    connection_changed: bool = False  # endpoint/project in the manifest: only read at start

    def line(self) -> str:
        parts = [f"manifest reloaded: {len(self.changed)} function(s) changed"]
        if self.connection_changed:
            parts.append("endpoint/project changed in the manifest: restart watch to use them")
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.removed:
            parts.append("removed from the manifest (not deleted; watch never prunes) " + ", ".join(self.removed))
        return escape("; ".join(parts))


class ManifestInvalid(Frozen):
    """The manifest or `.env` no longer loads: nothing is sent until it is fixed."""

    message: str  # `file:line: field: message` lines

    def line(self) -> str:
        return f"[red]manifest invalid[/red] (watching; nothing is sent until it is fixed):\n{escape(self.message)}"


class Watching(Frozen):
    """The watchers are armed (sent once at start and again when the watched folders change)."""

    roots: tuple[str, ...]
    functions: tuple[str, ...]

    def line(self) -> str:
        return escape(f"watching {len(self.functions)} function(s) in {', '.join(self.roots) or '(no folders)'}")


class Stopped(Frozen):
    abandoned: tuple[str, ...] = ()  # functions whose in-flight deploy was cancelled at stop

    def line(self) -> str:
        if self.abandoned:
            return escape("stopped; abandoned in-flight deploys of " + ", ".join(self.abandoned))
        return "stopped"


WatchEvent = Cycle | ManifestReloaded | ManifestInvalid | Watching | Stopped
