"""The runtimes and specifications a 1.6.2 server offers, and how the local machine runs them.

Appwrite builds its runtime list from open-runtimes (`config/runtimes.php`); the ids below are the
59 of the 1.6.x `createFunction` enum. `base` and `supports` are derived from the open-runtimes
naming (`<language>:<version>-alpine`, `openruntimes/<key>:v4-<version>`): close to, not byte-equal
with, the real list. Only Python and Node.js code can actually run here (`runtime_family`).
"""

from __future__ import annotations

from typing import Any, Literal

RUNTIME_IDS: tuple[str, ...] = (
    "node-14.5", "node-16.0", "node-18.0", "node-19.0", "node-20.0", "node-21.0", "node-22",
    "php-8.0", "php-8.1", "php-8.2", "php-8.3",
    "ruby-3.0", "ruby-3.1", "ruby-3.2", "ruby-3.3",
    "python-3.8", "python-3.9", "python-3.10", "python-3.11", "python-3.12", "python-ml-3.11",
    "deno-1.21", "deno-1.24", "deno-1.35", "deno-1.40", "deno-1.46", "deno-2.0",
    "dart-2.15", "dart-2.16", "dart-2.17", "dart-2.18", "dart-3.0", "dart-3.1", "dart-3.3", "dart-3.5",
    "dotnet-6.0", "dotnet-7.0", "dotnet-8.0",
    "java-8.0", "java-11.0", "java-17.0", "java-18.0", "java-21.0", "java-22",
    "swift-5.5", "swift-5.8", "swift-5.9", "swift-5.10",
    "kotlin-1.6", "kotlin-1.8", "kotlin-1.9", "kotlin-2.0",
    "cpp-17", "cpp-20",
    "bun-1.0", "bun-1.1",
    "go-1.23",
    "static-1",
    "flutter-3.24",
)

# key -> (display name, docker base image name)
_FAMILIES: dict[str, tuple[str, str]] = {
    "node": ("Node.js", "node"),
    "php": ("PHP", "php"),
    "ruby": ("Ruby", "ruby"),
    "python": ("Python", "python"),
    "python-ml": ("Python (ML)", "python"),
    "deno": ("Deno", "denoland/deno"),
    "dart": ("Dart", "dart"),
    "dotnet": (".NET", "mcr.microsoft.com/dotnet/sdk"),
    "java": ("Java", "openjdk"),
    "swift": ("Swift", "swift"),
    "kotlin": ("Kotlin", "openjdk"),
    "cpp": ("C++", "alpine"),
    "bun": ("Bun", "oven/bun"),
    "go": ("Go", "golang"),
    "static": ("Static", "openruntimes/static"),
    "flutter": ("Flutter", "ghcr.io/cirruslabs/flutter"),
    "rust": ("Rust", "rust"),
}

_ALL_ARCH = ["x86", "arm64", "armv7", "armv8"]
_NO_ARMV7 = {"dart", "dotnet", "swift", "bun", "flutter", "deno", "python-ml"}


def split_runtime(runtime_id: str) -> tuple[str, str]:
    """`python-ml-3.11` -> (`python-ml`, `3.11`): the version is the part after the last hyphen."""
    key, _, version = runtime_id.rpartition("-")
    return key, version


def runtime_model(runtime_id: str, open_runtimes: str = "v4") -> dict[str, Any]:
    """The Runtime response model (8 fields, model order) for one id; images are `v4` on 1.6, `v5` since 1.7."""
    key, version = split_runtime(runtime_id)
    name, base = _FAMILIES[key]
    supports = [a for a in _ALL_ARCH if not (a == "armv7" and key in _NO_ARMV7)]
    return {
        "$id": runtime_id,
        "key": key,
        "name": name,
        "version": version,
        "base": f"{base}:{version}-alpine",
        "image": f"openruntimes/{key}:{open_runtimes}-{version}",
        "logo": f"{key}.png",
        "supports": supports,
    }


def enabled_runtimes(allow_list: tuple[str, ...] | None) -> list[str]:
    """Runtime ids this server offers, in Appwrite's order, limited by `_APP_FUNCTIONS_RUNTIMES` when set."""
    if not allow_list:
        return list(RUNTIME_IDS)
    allowed = set(allow_list)
    return [rid for rid in RUNTIME_IDS if rid in allowed]


def runtime_family(runtime_id: str) -> Literal["python", "node"] | None:
    """Which interpreter of this machine stands in for a runtime: Python, Node.js, or none (can't run here)."""
    key, _ = split_runtime(runtime_id)
    if key in ("python", "python-ml"):
        return "python"
    if key == "node":
        return "node"
    return None


# 1.6.2 `config/runtimes/specifications.php`, config order: (slug, cpus, memory MB).
SPECIFICATIONS: tuple[tuple[str, float, int], ...] = (
    ("s-0.5vcpu-512mb", 0.5, 512),
    ("s-1vcpu-512mb", 1, 512),
    ("s-1vcpu-1gb", 1, 1024),
    ("s-2vcpu-2gb", 2, 2048),
    ("s-2vcpu-4gb", 2, 4096),
    ("s-4vcpu-4gb", 4, 4096),
    ("s-4vcpu-8gb", 4, 8192),
    ("s-8vcpu-4gb", 8, 4096),
    ("s-8vcpu-8gb", 8, 8192),
)
DEFAULT_SPECIFICATION = "s-1vcpu-512mb"
SPECIFICATION_SLUGS: tuple[str, ...] = tuple(slug for slug, _, _ in SPECIFICATIONS)


def specification_model(slug: str) -> dict[str, Any]:
    """The Specification response model: memory, cpus, enabled, slug."""
    for name, cpus, memory in SPECIFICATIONS:
        if name == slug:
            return {"memory": memory, "cpus": cpus, "enabled": True, "slug": name}
    raise KeyError(slug)


def specification_limits(slug: str) -> tuple[float, int]:
    """(cpus, memory MB) for a slug, e.g. to set APPWRITE_FUNCTION_CPUS/_MEMORY."""
    model = specification_model(slug)
    return model["cpus"], model["memory"]
