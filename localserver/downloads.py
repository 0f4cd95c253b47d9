"""Download a deployment: its uploaded source (`type=source`, the default) or its build output (`type=output`,
1.7+), with `Range` support; `/download` and its 1.7 alias `/build/download`.

Which type a client gets is the filter chain's business: 1.9.5+ force `output` for formats below 1.7.0 (V19).
"""

from __future__ import annotations

import asyncio
import os
import re
import tarfile
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import anyio
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from localserver.builder import archive_path
from localserver.context import ServerContext
from localserver.deployments import READ, check_id, load_deployment, load_function_of
from localserver.errors import AppwriteError, invalid_param

READ_CHUNK = 10 * 1024 * 1024  # open-ended ranges are capped here, as Appwrite's MAX_OUTPUT_CHUNK_SIZE
_RANGE = re.compile(r"^\s*(\w+)=(\d+)-(\d*)\s*$")
DOWNLOAD_TYPES = ("source", "output")


def _parse_range(header: str, size: int) -> tuple[int, int]:
    """Appwrite's rule: `bytes=start-[end]`, open end capped at 10 MiB, start < end < size, else 416."""
    match = _RANGE.match(header)
    if not match or match.group(1) != "bytes":
        raise AppwriteError("storage_invalid_range")
    start = int(match.group(2))
    end = int(match.group(3)) if match.group(3) else min(start + READ_CHUNK - 1, size - 1)
    if start >= end or end >= size:
        raise AppwriteError("storage_invalid_range")
    return start, end


async def _file_slice(path: Any, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as handle:
        await handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(1024 * 1024, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def output_archive(ctx: ServerContext, function_id: str, deployment_id: str) -> Path:
    """The build output as .tar.gz (the built folder, packed once on first download), or 404 build_not_found."""
    deployment = load_deployment(ctx, function_id, deployment_id)
    build = ctx.store.get("builds", deployment["buildId"]) if deployment.get("buildId") else None
    folder = Path(build["_folder"]) if build and build.get("status") == "ready" and build.get("_folder") else None
    if folder is None or not folder.is_dir():
        raise AppwriteError("build_not_found")
    target = ctx.config.data_dir / "outputs" / function_id / f"{deployment_id}.tar.gz"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            for item in sorted(folder.iterdir()):
                tar.add(item, arcname=item.name)
        os.replace(partial, target)
    return target


async def _download(request: Request, ctx: ServerContext, function_id: str, deployment_id: str) -> Stream:
    check_id("functionId", function_id)
    check_id("deploymentId", deployment_id)
    load_function_of(ctx, function_id)
    load_deployment(ctx, function_id, deployment_id)
    kind = request.query_params.get("type", "source")
    if kind not in DOWNLOAD_TYPES:
        raise invalid_param("type", f"Value must be one of ({', '.join(DOWNLOAD_TYPES)})")
    if kind == "output":
        path = await asyncio.to_thread(output_archive, ctx, function_id, deployment_id)
    else:
        path = archive_path(ctx.config, function_id, deployment_id)
    if not path.is_file():
        raise AppwriteError("deployment_not_found")
    size = path.stat().st_size
    filename = f"{deployment_id}-{kind}.tar.gz" if ctx.config.profile.download_names_type else f"{deployment_id}.tar.gz"
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, max-age=3888000",
        "Expires": formatdate(time.time() + 45 * 24 * 3600, usegmt=True),  # 45 days, as Appwrite
    }
    range_header = request.headers.get("range")
    if range_header:
        start, end = _parse_range(range_header, size)
        headers.update({"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)})
        return Stream(_file_slice(path, start, end - start + 1), status_code=206, headers=headers, media_type="application/gzip")
    headers["Content-Length"] = str(size)
    return Stream(_file_slice(path, 0, size), status_code=200, headers=headers, media_type="application/gzip")


@get("/functions/{functionId:str}/deployments/{deploymentId:str}/download", opt=READ, name="functions.getDeploymentDownload")
async def download_deployment(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> Stream:  # noqa: N803
    return await _download(request, ctx, functionId, deploymentId)


@get("/functions/{functionId:str}/deployments/{deploymentId:str}/build/download", opt=READ, name="functions.getDeploymentDownload.build")
async def download_build_alias(request: Request, ctx: NamedDependency[ServerContext], functionId: FromPath[str], deploymentId: FromPath[str]) -> Stream:  # noqa: N803
    return await _download(request, ctx, functionId, deploymentId)


ROUTES = [download_deployment, download_build_alias]
