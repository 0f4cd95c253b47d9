"""Runtime ids each server version offers (NEWER-SERVERS.md §8; 1.6.2 = localserver.runtimes.RUNTIME_IDS)."""

from __future__ import annotations

from localserver.runtimes import RUNTIME_IDS as RUNTIMES_1_6

_VERSIONS_1_9: dict[str, tuple[str, ...]] = {
    "node": ("14.5", "16.0", "18.0", "19.0", "20.0", "21.0", "22", "23", "24", "25"),
    "php": ("8.0", "8.1", "8.2", "8.3", "8.4"),
    "ruby": ("3.0", "3.1", "3.2", "3.3", "3.4", "4.0"),
    "python": ("3.8", "3.9", "3.10", "3.11", "3.12", "3.13", "3.14"),
    "python-ml": ("3.11", "3.12", "3.13"),
    "deno": ("1.21", "1.24", "1.35", "1.40", "1.46", "2.0", "2.5", "2.6"),
    "dart": ("2.15", "2.16", "2.17", "2.18", "2.19", "3.0", "3.1", "3.3", "3.5", "3.8", "3.9", "3.10", "3.11", "3.12"),
    "dotnet": ("6.0", "7.0", "8.0", "10"),
    "java": ("8.0", "11.0", "17.0", "18.0", "21.0", "22", "25"),
    "swift": ("5.5", "5.8", "5.9", "5.10", "6.2"),
    "kotlin": ("1.6", "1.8", "1.9", "2.0", "2.3"),
    "cpp": ("17", "20"),
    "bun": ("1.0", "1.1", "1.2", "1.3"),
    "go": ("1.23", "1.24", "1.25", "1.26"),
    "rust": ("1.83",),
    "static": ("1",),
    "flutter": ("3.24", "3.27", "3.29", "3.32", "3.35", "3.38", "3.41", "3.44"),
}
RUNTIMES_1_9: tuple[str, ...] = tuple(f"{key}-{version}" for key, versions in _VERSIONS_1_9.items() for version in versions)
# SDK 27.0.0 (Cloud 2.5) adds these to the 1.9 list.
RUNTIMES_2_5: tuple[str, ...] = (*RUNTIMES_1_9, "node-26", "dart-3.13", "bun-1.4", "flutter-3.47")
# 1.8.1 is listed with the 1.9 set: its php-runtimes pin is between the two and only the enum of the SDK differs.
ALL_RUNTIMES: tuple[str, ...] = tuple(dict.fromkeys((*RUNTIMES_1_6, *RUNTIMES_2_5)))
