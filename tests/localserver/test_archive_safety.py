"""Hostile archives end in a failed build with a clear log, and write nothing outside their folder."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from appwrite.input_file import InputFile

from tests.helpers import wait_until
from tests.localserver.support import MAIN_PY


def archive_with(extra: Callable[[tarfile.TarFile], None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("main.py")
        info.size = len(MAIN_PY)
        tar.addfile(info, io.BytesIO(MAIN_PY))
        extra(tar)
    return buf.getvalue()


def file_member(name: str) -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = 5
        tar.addfile(info, io.BytesIO(b"owned"))
    return add


def link_member(name: str, target: str, kind: bytes) -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = target
        tar.addfile(info)
    return add


def device_member(tar: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("null")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    tar.addfile(info)


def link_then_write(tar: tarfile.TarFile) -> None:
    link_member("escape", "..", tarfile.SYMTYPE)(tar)
    file_member("escape/owned.txt")(tar)


CASES: dict[str, bytes] = {
    "dot-dot": archive_with(file_member("../owned.txt")),
    "deep-dot-dot": archive_with(file_member("sub/../../../owned.txt")),
    "absolute": archive_with(file_member("/tmp/fnsync-owned-absolute.txt")),
    "symlink-absolute": archive_with(link_member("passwd", "/etc/passwd", tarfile.SYMTYPE)),
    "symlink-outside": archive_with(link_member("up", "../../../../owned.txt", tarfile.SYMTYPE)),
    "symlink-dir-then-write": archive_with(link_then_write),
    "hardlink-outside": archive_with(link_member("hard", "../../owned.txt", tarfile.LNKTYPE)),
    "hardlink-absolute": archive_with(link_member("hard", "/etc/passwd", tarfile.LNKTYPE)),
    "device": archive_with(device_member),
    "truncated-gzip": archive_with(file_member("big.txt"))[:-30],
    "not-gzip": b"this is not a gzip file at all",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_archive_fails_the_build(appwrite_sdk: Any, local_server: Any, case: str) -> None:
    appwrite_sdk.create("fn", "Fn", "python-3.11", entrypoint="main.py")
    created = appwrite_sdk.create_deployment("fn", InputFile.from_bytes(CASES[case], "code.tar.gz"), True)
    done = wait_until(
        lambda: (d := appwrite_sdk.get_deployment("fn", created["$id"]))["status"] in ("ready", "failed") and d,
        timeout=30, what="build to finish",
    )
    assert done["status"] == "failed", done["buildLogs"]
    assert "Could not unpack the code" in done["buildLogs"]
    assert appwrite_sdk.get("fn")["deployment"] == ""
    data: Path = local_server.data_dir
    assert not list(data.rglob("owned*")) and not list(data.parent.rglob("owned.txt"))
    assert not Path("/tmp/fnsync-owned-absolute.txt").exists()
    # the refused archive leaves no half-unpacked folder; the upload itself is still downloadable
    assert not (data / "builds" / "fn" / created["$id"] / "code").exists()
    assert appwrite_sdk.get_deployment_download("fn", created["$id"]) == CASES[case]
