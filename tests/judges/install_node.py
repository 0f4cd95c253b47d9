"""Install the Node.js outside judge, the official `node-appwrite` SDK for Appwrite 1.6, into `.cache/judges/npm/`.

    python -m tests.judges.install_node          # installs node-appwrite 14.2.0 unless it is there already

Tests find it with `node_appwrite_dir()`; they fail under CI (CI=true) when it is missing and skip elsewhere.
The install is pinned by version and needs only `npm` and the npm registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

NODE_APPWRITE_VERSION = "14.2.0"
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE = REPO_ROOT / ".cache" / "judges" / "npm"


def install_dir(version: str = NODE_APPWRITE_VERSION) -> Path:
    return CACHE / f"node-appwrite-{version}"


def node_appwrite_dir(version: str = NODE_APPWRITE_VERSION) -> Path | None:
    """The install prefix (its `node_modules` holds node-appwrite) when that exact version is installed, else None."""
    package = install_dir(version) / "node_modules" / "node-appwrite" / "package.json"
    try:
        installed = json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None
    return install_dir(version) if installed == version else None


def install(version: str = NODE_APPWRITE_VERSION) -> Path:
    """npm-install `node-appwrite@version` into its own prefix under `.cache/judges/npm/` (idempotent)."""
    found = node_appwrite_dir(version)
    if found is not None:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not installed: install Node.js and npm (apt-get install nodejs npm), then re-run")
    prefix = install_dir(version)
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "package.json").write_text('{"private": true}\n')
    subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--save-exact", f"node-appwrite@{version}"],
        cwd=prefix, check=True, env={**os.environ, "npm_config_update_notifier": "false"},
    )
    if node_appwrite_dir(version) is None:
        raise SystemExit(f"npm ran but node-appwrite {version} is not in {prefix / 'node_modules'}")
    return prefix


def main() -> None:
    print(install())


if __name__ == "__main__":
    sys.exit(main())
