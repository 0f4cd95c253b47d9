"""A pytest plugin that records every manifest text the test suite validates (`-p tests.ci.record_manifests`).

`syncer.manifest.parse_manifest_text` is wrapped before any test module imports it; each call appends one JSON
line {text, environ, dotenv} to the file named by FNSYNC_RECORD_MANIFESTS. `tests/ci/test_schema.py` runs the
manifest tests with it to collect "every manifest in the tests", then checks the JSON Schema against each.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

RECORD_TO = "FNSYNC_RECORD_MANIFESTS"


def pytest_configure(config: pytest.Config) -> None:
    target = os.environ.get(RECORD_TO)
    if not target:
        return
    import syncer.manifest as manifest_package

    original = manifest_package.parse_manifest_text

    def recording(text: str, source: Path, environ: Any = None, **options: Any) -> Any:
        dotenv = options.get("dotenv_text")
        if dotenv is None:
            dotenv_file = Path(source).parent / ".env"
            dotenv = dotenv_file.read_text(errors="replace") if dotenv_file.is_file() else ""
        line = {"text": text, "environ": dict(environ) if environ is not None else {}, "dotenv": dotenv}
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")
        return original(text, source, environ, **options)

    manifest_package.parse_manifest_text = recording  # type: ignore[assignment]
