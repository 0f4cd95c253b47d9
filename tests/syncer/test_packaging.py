"""Packaging: file selection (ignore, .gitignore, include, symlinks), deterministic bytes, and the code hash."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from syncer.manifest.models import FunctionSpec
from syncer.packaging import (
    HEADER_PROBE_BYTES,
    PackagingError,
    code_hash_from_header,
    code_hash_of_archive,
    list_function_files,
    package_function,
)


def write(path: Path, text: str = "x", mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mode is not None:
        path.chmod(mode)
    return path


def make_project(base: Path) -> Path:
    """A small project: functions/hello with code, junk that must be left out, and a shared folder."""
    fn = base / "functions" / "hello"
    write(fn / "main.py", "print('hi')\n")
    write(fn / "lib" / "util.py", "X = 1\n")
    write(fn / "run.sh", "#!/bin/sh\n", mode=0o755)
    write(fn / ".gitignore", "build/\n*.log\n!keep.log\n")
    write(fn / "build" / "out.js", "junk")
    write(fn / "debug.log", "junk")
    write(fn / "keep.log", "kept")
    write(fn / "lib" / ".gitignore", "secret.txt\n")
    write(fn / "lib" / "secret.txt", "junk")
    write(fn / "secret.txt", "not ignored at the top level")
    write(fn / ".git" / "HEAD", "junk")
    write(fn / ".fnsync" / "cache", "junk")
    write(fn / "lib" / "__pycache__" / "util.cpython-311.pyc", "junk")
    write(fn / ".main.py.swp", "junk")
    write(fn / "main.py~", "junk")
    write(fn / "notes.md", "docs")
    write(base / "shared" / "common.py", "C = 2\n")
    write(base / "shared" / "__pycache__" / "c.pyc", "junk")
    write(base / "config" / "settings.json", "{}")
    write(base / "config" / "other.yaml", "a: 1")
    return fn


def spec_for(fn: Path, **kw: object) -> FunctionSpec:
    fields: dict[str, object] = {"id": "hello", "name": "Hello", "runtime": "python-3.12", "path": fn, "entrypoint": "main.py"}
    fields.update(kw)
    return FunctionSpec(**fields)  # type: ignore[arg-type]


def names(spec: FunctionSpec, root: Path | None) -> list[str]:
    return [name for name, _ in list_function_files(spec, root)]


def test_selection_applies_ignore_gitignore_and_always_ignored(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    assert names(spec_for(fn, ignore=("*.md",)), tmp_path) == [
        ".gitignore",
        "keep.log",
        "lib/.gitignore",
        "lib/util.py",
        "main.py",
        "run.sh",
        "secret.txt",
    ]


def test_include_folders_files_and_globs_keep_paths_relative_to_root(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    got = names(spec_for(fn, include=("shared", "config/*.json")), tmp_path)
    assert "shared/common.py" in got and "config/settings.json" in got
    assert "config/other.yaml" not in got and "shared/__pycache__/c.pyc" not in got
    pairs = dict(list_function_files(spec_for(fn, include=("shared",)), tmp_path))
    assert pairs["shared/common.py"] == tmp_path / "shared" / "common.py"


def test_ignore_patterns_also_apply_to_included_files(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    assert "config/settings.json" not in names(spec_for(fn, include=("config",), ignore=("*.json",)), tmp_path)


@pytest.mark.parametrize(
    ("include", "message"),
    [
        (("../outside",), "inside the manifest"),
        (("/etc",), "inside the manifest"),
        (("missing",), "matches nothing"),
        (("nothing/*.py",), "matches nothing"),
    ],
)
def test_bad_include_is_refused(tmp_path: Path, include: tuple[str, ...], message: str) -> None:
    fn = make_project(tmp_path)
    with pytest.raises(PackagingError, match=message):
        list_function_files(spec_for(fn, include=include), tmp_path)


def test_include_clashing_with_function_file_is_refused(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    write(fn / "shared" / "common.py", "other")
    with pytest.raises(PackagingError, match="comes from both"):
        list_function_files(spec_for(fn, include=("shared",)), tmp_path)


def test_bad_function_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PackagingError, match="does not exist"):
        list_function_files(spec_for(tmp_path / "nope"), tmp_path)
    with pytest.raises(PackagingError, match="no code path"):
        list_function_files(spec_for(None), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackagingError, match="no files"):
        package_function(spec_for(tmp_path / "empty"), tmp_path / "out", root=tmp_path)
    fn = make_project(tmp_path / "p")
    with pytest.raises(PackagingError, match="needs the manifest root"):
        list_function_files(spec_for(fn, include=("shared",)), None)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_symlinks_inside_tree_become_files_outside_are_refused(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    fn = make_project(project)
    os.symlink(project / "shared" / "common.py", fn / "common.py")
    pkg = package_function(spec_for(fn), tmp_path / "out", root=project)
    with tarfile.open(pkg.archive) as tar:
        member = tar.getmember("common.py")
        assert member.isfile() and tar.extractfile(member).read() == b"C = 2\n"  # type: ignore[union-attr]

    write(tmp_path / "secret.txt", "outside")
    os.symlink(tmp_path / "secret.txt", fn / "leak.txt")
    with pytest.raises(PackagingError, match="outside the project"):
        list_function_files(spec_for(fn), project)
    (fn / "leak.txt").unlink()
    os.symlink(fn / "missing", fn / "dangling")
    with pytest.raises(PackagingError, match="dangling"):
        list_function_files(spec_for(fn), project)
    (fn / "dangling").unlink()
    os.symlink(fn / "lib", fn / "lib2")
    with pytest.raises(PackagingError, match="folders"):
        list_function_files(spec_for(fn), project)


def test_archive_contents_and_normalised_metadata(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    pkg = package_function(spec_for(fn), tmp_path / "out", root=tmp_path)
    assert pkg.archive.exists() and pkg.size == pkg.archive.stat().st_size
    assert pkg.file_count == len(pkg.files) == 8
    with tarfile.open(pkg.archive) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == list(pkg.files) == sorted(pkg.files)
    for m in members:
        assert m.isfile() and m.uid == 0 and m.gid == 0 and m.uname == "" and m.gname == ""
        assert m.mtime == members[0].mtime
        assert m.mode == (0o755 if m.name == "run.sh" else 0o644)


def test_gzip_header_carries_the_code_hash(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    pkg = package_function(spec_for(fn), tmp_path / "out", root=tmp_path)
    head = pkg.archive.read_bytes()[:HEADER_PROBE_BYTES]
    assert code_hash_from_header(head) == pkg.code_hash
    assert head[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0
    assert code_hash_from_header(gzip.compress(b"data")) is None
    assert code_hash_from_header(b"not gzip at all") is None
    assert code_hash_from_header(head[:20]) is None  # name cut off


def test_code_hash_of_archive_matches_and_reads_foreign_archives(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    spec = spec_for(fn, commands="pip install -r requirements.txt")
    pkg = package_function(spec, tmp_path / "out", root=tmp_path)
    args = {"entrypoint": spec.entrypoint, "commands": spec.commands, "runtime": spec.runtime}
    assert code_hash_of_archive(pkg.archive, **args) == pkg.code_hash

    # The same files tarred by another tool (./ prefixes, directory entries, other mtimes) hash the same.
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        for name, path in list_function_files(spec, tmp_path):
            tar.add(path, arcname="./" + name)
        info = tarfile.TarInfo("./lib")
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    assert code_hash_of_archive(foreign, **args) == pkg.code_hash
    assert code_hash_from_header(foreign.read_bytes()[:512]) is None


def test_same_tree_gives_same_bytes_regardless_of_mtime_umask_and_location(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        a = make_project(tmp_path / "one")
    finally:
        os.umask(old_umask)
    old_umask = os.umask(0o002)
    try:
        b = make_project(tmp_path / "elsewhere" / "two")
    finally:
        os.umask(old_umask)
    for i, path in enumerate(sorted(b.rglob("*"))):
        os.utime(path, (1_000_000 + i, 2_000_000 + i), follow_symlinks=False)
    (b / "main.py").chmod(0o600)
    pa = package_function(spec_for(a), tmp_path / "out-a", root=tmp_path / "one")
    pb = package_function(spec_for(b), tmp_path / "out-b", root=tmp_path / "elsewhere" / "two")
    assert pa.code_hash == pb.code_hash
    assert pa.archive.read_bytes() == pb.archive.read_bytes()


@pytest.mark.parametrize(
    "change",
    ["content", "new_file", "exec_bit", "rename", "entrypoint", "commands", "runtime"],
)
def test_hash_changes_with_content_and_build_inputs(tmp_path: Path, change: str) -> None:
    fn = make_project(tmp_path)
    spec = spec_for(fn)
    before = package_function(spec, tmp_path / "out", root=tmp_path).code_hash
    if change == "content":
        write(fn / "lib" / "util.py", "X = 2\n")
    elif change == "new_file":
        write(fn / "extra.py", "")
    elif change == "exec_bit":
        (fn / "main.py").chmod(0o755)
    elif change == "rename":
        (fn / "lib" / "util.py").rename(fn / "lib" / "utils.py")
    elif change == "entrypoint":
        spec = spec.model_copy(update={"entrypoint": "run.sh"})
    elif change == "commands":
        spec = spec.model_copy(update={"commands": "pip install"})
    elif change == "runtime":
        spec = spec.model_copy(update={"runtime": "python-3.11"})
    assert package_function(spec, tmp_path / "out", root=tmp_path).code_hash != before


def test_hash_ignores_mtimes_and_ignored_files(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    spec = spec_for(fn)
    first = package_function(spec, tmp_path / "out", root=tmp_path)
    os.utime(fn / "main.py", (5, 5))
    write(fn / "debug.log", "more junk")
    write(fn / "build" / "new.js", "junk")
    second = package_function(spec, tmp_path / "out2", root=tmp_path)
    assert second.code_hash == first.code_hash
    assert second.archive.read_bytes() == first.archive.read_bytes()


def test_archive_extracts_with_the_listed_content(tmp_path: Path) -> None:
    fn = make_project(tmp_path)
    pkg = package_function(spec_for(fn, include=("shared",)), tmp_path / "out", root=tmp_path)
    with tarfile.open(fileobj=io.BytesIO(pkg.archive.read_bytes()), mode="r:gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    assert (tmp_path / "x" / "main.py").read_text() == "print('hi')\n"
    assert (tmp_path / "x" / "shared" / "common.py").read_text() == "C = 2\n"
    assert os.access(tmp_path / "x" / "run.sh", os.X_OK)
