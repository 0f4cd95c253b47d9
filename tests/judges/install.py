"""Install the outside judges: the official Appwrite SDKs and CLIs the local server is checked against.

Each Python SDK goes into its own `pip install --target` dir (they conflict with each other and with the
project's own `appwrite` pin); each CLI, and the Node.js SDK `node-appwrite`, into its own npm prefix
(`.cache/judges/npm/node-appwrite-<version>`, used by tests/judges/node/). Everything lands in `.cache/judges/` in the
repository root and is skipped when already there, so re-running is cheap. CI runs this before pytest:

    python tests/judges/install.py            # all judges
    python tests/judges/install.py --python   # only the SDKs (no npm needed)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "judges"
# SDK version -> the Appwrite server version it targets.
SDKS: dict[str, str] = {"7.1.0": "1.6.2", "13.6.1": "1.8.1", "20.1.0": "1.9.6", "27.0.0": "2.5.0"}
CLIS: tuple[str, ...] = ("6.2.3", "12.0.1")
# node-appwrite versions: 14.2.0 is the Node.js SDK for Appwrite 1.6.
NODE_SDKS: tuple[str, ...] = ("14.2.0",)


def sdk_dir(version: str) -> Path:
    """Where `appwrite==version` is installed (put it on PYTHONPATH)."""
    return CACHE / f"appwrite-sdk-{version}"


def cli_binary(version: str) -> Path:
    """The `appwrite` executable of appwrite-cli@version."""
    return CACHE / f"appwrite-cli-{version}" / "node_modules" / ".bin" / "appwrite"


def node_sdk_prefix(version: str) -> Path:
    """The npm prefix of node-appwrite@version (run node with NODE_PATH=<prefix>/node_modules)."""
    return CACHE / "npm" / f"node-appwrite-{version}"


def node_sdk_dir(version: str) -> Path | None:
    """That prefix when node-appwrite@version is installed there, else None."""
    prefix = node_sdk_prefix(version)
    return prefix if _done_marker(prefix).exists() and (prefix / "node_modules" / "node-appwrite").is_dir() else None


def _done_marker(target: Path) -> Path:
    return target / ".installed"


def install_sdk(version: str) -> None:
    target = sdk_dir(version)
    if _done_marker(target).exists():
        print(f"appwrite {version}: already in {target}")
        return
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
         "--target", str(target), f"appwrite=={version}"],
        check=True,
    )
    _done_marker(target).write_text(version + "\n")
    print(f"appwrite {version}: installed in {target}")


def _npm_install(package: str, version: str, prefix: Path, installed: Path) -> None:
    """`npm install package@version` into its own prefix, unless done already (marker and `installed` present)."""
    if _done_marker(prefix).exists() and installed.exists():
        print(f"{package} {version}: already in {prefix}")
        return
    if shutil.which("npm") is None:
        raise SystemExit(f"npm is needed for the {package} judges (apt-get install npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(prefix), f"{package}@{version}"],
        check=True,
    )
    _done_marker(prefix).write_text(version + "\n")
    print(f"{package} {version}: installed in {prefix}")


def install_cli(version: str) -> None:
    _npm_install("appwrite-cli", version, CACHE / f"appwrite-cli-{version}", cli_binary(version))


def install_node_sdk(version: str) -> None:
    _npm_install("node-appwrite", version, node_sdk_prefix(version), node_sdk_prefix(version) / "node_modules" / "node-appwrite")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="store_true", help="only the Python SDKs")
    parser.add_argument("--npm", action="store_true", help="only the npm judges (CLIs and node-appwrite)")
    args = parser.parse_args()
    both = not args.python and not args.npm
    if args.python or both:
        for version in SDKS:
            install_sdk(version)
    if args.npm or both:
        for version in CLIS:
            install_cli(version)
        for version in NODE_SDKS:
            install_node_sdk(version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
