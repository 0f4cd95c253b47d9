"""Install the outside judges: the official Appwrite SDKs and CLIs the local server is checked against.

Each Python SDK goes into its own `pip install --target` dir (they conflict with each other and with the
project's own `appwrite` pin); each CLI into its own npm prefix. Everything lands in `.cache/judges/` in the
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


def sdk_dir(version: str) -> Path:
    """Where `appwrite==version` is installed (put it on PYTHONPATH)."""
    return CACHE / f"appwrite-sdk-{version}"


def cli_binary(version: str) -> Path:
    """The `appwrite` executable of appwrite-cli@version."""
    return CACHE / f"appwrite-cli-{version}" / "node_modules" / ".bin" / "appwrite"


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


def install_cli(version: str) -> None:
    prefix = CACHE / f"appwrite-cli-{version}"
    if _done_marker(prefix).exists() and cli_binary(version).exists():
        print(f"appwrite-cli {version}: already in {prefix}")
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed for the appwrite-cli judges (apt-get install npm)")
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", str(prefix), f"appwrite-cli@{version}"],
        check=True,
    )
    _done_marker(prefix).write_text(version + "\n")
    print(f"appwrite-cli {version}: installed in {prefix}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="store_true", help="only the Python SDKs")
    parser.add_argument("--npm", action="store_true", help="only the npm CLIs")
    args = parser.parse_args()
    both = not args.python and not args.npm
    if args.python or both:
        for version in SDKS:
            install_sdk(version)
    if args.npm or both:
        for version in CLIS:
            install_cli(version)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
