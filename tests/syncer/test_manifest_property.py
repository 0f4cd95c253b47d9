"""Whatever the input, loading gives a Manifest or a ManifestError: never another exception."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncer.manifest import Manifest, ManifestError, parse_manifest_text
from syncer.manifest.schema import ALLOWED_KEYS

pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    """A manifest folder with a code folder, shared by all examples (hypothesis can't use tmp_path)."""
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        (base / "src").mkdir()
        (base / "src" / "main.py").write_text("")
        (base / ".env").write_text("FROM_DOTENV=1\n")
        yield base


def outcome(text: str, root: Path, environ: dict[str, str] | None = None) -> Manifest | ManifestError:
    try:
        return parse_manifest_text(text, root / "functions.yaml", environ or {})
    except ManifestError as error:
        assert error.issues, "a ManifestError must carry at least one issue"
        assert all(issue.message for issue in error.issues)
        return error


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["${X}", "${X:-d}", "$${X}", "${", "${1}", "users.*.create", "any", "*/5 * * * *", "src", "main.py"]),
)
keys = st.one_of(
    st.text(max_size=12),
    st.sampled_from([k for names in ALLOWED_KEYS.values() for k in names] + ["<<", "x-a", "unique()", "-bad"]),
)
structures = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5), max_leaves=20)

function_values = {
    "name": scalars,
    "runtime": st.sampled_from(["python-3.12", "node-22", ""]) | scalars,
    "path": st.sampled_from(["src", "nope", ".", "src/main.py"]) | scalars,
    "include": st.lists(st.sampled_from(["src", "*.py", "**", "/abs", "[", ""]) | scalars, max_size=3),
    "entrypoint": st.sampled_from(["main.py", "none.py", "/x", ""]) | scalars,
    "execute": st.lists(st.sampled_from(["any", "*", "user:a/verified", "team:a/b/c", "label:x", "role:x"]) | scalars, max_size=3),
    "events": st.lists(st.sampled_from(["users.*.create", "functions.*", "a.b.c.d.e.f.g.h", ".."]) | scalars, max_size=3),
    "schedule": st.sampled_from(["@daily", "0 0 31 2 *", "* * * * * *", "L L L L L", "0 0 ? * ?"]) | scalars,
    "timeout": st.integers(-5, 2000) | scalars,
    "enabled": scalars,
    "scopes": st.lists(st.sampled_from(["users.read", "nope"]) | scalars, max_size=3),
    "variables": st.dictionaries(st.text(max_size=8), scalars | structures, max_size=4) | scalars,
    "git": st.dictionaries(st.sampled_from(["installationId", "repositoryId", "branch", "silentMode", "x"]), scalars, max_size=4),
    "bogus": scalars,
}
valid_values = {
    "path": st.just("src"),
    "entrypoint": st.just("main.py"),
    "include": st.lists(st.sampled_from(["src", "src/*.py"]), max_size=2),
    "execute": st.lists(st.sampled_from(["any", "users/verified", "team:t/owner", "label:vip"]), max_size=3),
    "events": st.lists(st.sampled_from(["users.*.create", "buckets.*.files.*.delete", "teams.*"]), max_size=3),
    "schedule": st.sampled_from(["", "@daily", "*/5 * * * *", "0 0 29 2 *"]),
    "timeout": st.integers(1, 900),
    "enabled": st.booleans(),
    "scopes": st.lists(st.sampled_from(["users.read", "databases.write"]), max_size=2),
    "variables": st.dictionaries(st.text(min_size=1, max_size=8), st.none() | st.booleans() | st.integers() | st.text(max_size=10) | st.just("${X:-d}"), max_size=4),
    "git": st.fixed_dictionaries({"installationId": st.just("i"), "repositoryId": st.just("r"), "branch": st.just("main")}),
}
valid_functions = st.fixed_dictionaries(
    {"name": st.text(min_size=1, max_size=20), "runtime": st.sampled_from(["python-3.12", "node-22"])}, optional=valid_values
)
functions = valid_functions | st.fixed_dictionaries({}, optional=function_values)
function_ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True) | keys
wild_manifests = st.fixed_dictionaries(
    {"version": st.just(1) | scalars, "functions": st.dictionaries(function_ids, functions | structures, max_size=3) | scalars},
    optional={"defaults": functions | scalars, "prune": st.fixed_dictionaries({"keep": structures}), "endpoint": scalars},
)
valid_manifests = st.fixed_dictionaries(
    {"version": st.just(1), "functions": st.dictionaries(st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True), valid_functions, max_size=3)},
    optional={"defaults": st.fixed_dictionaries({}, optional=valid_values), "prune": st.fixed_dictionaries({"keep": st.lists(st.just("a*"))})},
)
manifests = valid_manifests | wild_manifests


@SETTINGS
@given(text=st.text(max_size=300))
def test_arbitrary_text(root: Path, text: str) -> None:
    outcome(text, root)


@SETTINGS
@given(text=st.text(alphabet=":-[]{}&*!|>'\"%@`#,?\n ab1${}<", max_size=200))
def test_yaml_punctuation_soup(root: Path, text: str) -> None:
    outcome(text, root)


@SETTINGS
@given(data=structures)
def test_arbitrary_structures(root: Path, data: Any) -> None:
    outcome(yaml.safe_dump(data), root)


@SETTINGS
@given(data=manifests, environ=st.dictionaries(st.sampled_from(["X", "Y"]), st.text(max_size=10), max_size=2))
def test_manifest_shaped_structures(root: Path, data: Any, environ: dict[str, str]) -> None:
    result = outcome(yaml.safe_dump(data, allow_unicode=True), root, environ)
    if isinstance(result, Manifest):  # a success is a real, consistent manifest
        assert result.version == 1
        for function_id, spec in result.functions.items():
            assert spec.id == function_id and spec.name and spec.runtime and 1 <= spec.timeout <= 900


def test_a_generated_valid_manifest_loads(root: Path) -> None:
    """The shaped strategy can succeed, so the property above checks successes too."""
    data = {"version": 1, "functions": {"api": {"name": "API", "runtime": "node-22", "path": "src", "entrypoint": "main.py"}}}
    assert isinstance(outcome(yaml.safe_dump(data), root), Manifest)
