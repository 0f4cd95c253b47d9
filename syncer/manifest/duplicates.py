"""A function id defined twice: the issues of every block, not only of the one YAML keeps.

The loader keeps the first block of a repeated function id (and reports the repetition with both lines). To list
what is wrong in the later blocks as well, the manifest is validated again keeping the N-th block of each such id
(`load_yaml(..., occurrence=N)`); from that run only the issues inside that block are taken, marked with the
block's line so that two blocks' issues on one field stay apart.
"""

from __future__ import annotations

from collections.abc import Callable

from syncer.manifest.errors import ManifestError, ManifestIssue
from syncer.manifest.loader import Document
from syncer.manifest.models import Manifest


def every_block_issues(
    document: Document, found: list[ManifestIssue], validate_keeping: Callable[[int], Manifest]
) -> list[ManifestIssue]:
    """`found` (the issues with the first block of each id kept) plus those of the 2nd, 3rd... block of each function
    id defined more than once in `document`; every issue inside such a block names the block's line.

    `validate_keeping(n)` validates the same text keeping the n-th block of every repeated id (it raises).
    """
    repeated = {fid: lines for fid, lines in document.function_blocks.items() if len(lines) > 1}
    if not repeated:
        return found
    issues = _of_block(found, repeated, 0, keep_others=True)
    for occurrence in range(1, max(len(lines) for lines in repeated.values())):
        try:
            validate_keeping(occurrence)
        except ManifestError as error:
            issues += _of_block(error.issues, repeated, occurrence, keep_others=False)
    return issues


def _of_block(
    found: list[ManifestIssue], repeated: dict[str, list[int]], occurrence: int, *, keep_others: bool
) -> list[ManifestIssue]:
    """The issues inside the `occurrence`-th block of a repeated id, marked with its line (and, with `keep_others`,
    every other issue unchanged)."""
    kept: list[ManifestIssue] = []
    for issue in found:
        block = next((
            (fid, lines[occurrence]) for fid, lines in repeated.items()
            if occurrence < len(lines) and _inside(issue, fid) and lines[occurrence] <= issue.line
            and (occurrence + 1 == len(lines) or issue.line < lines[occurrence + 1])
            and not issue.message.startswith(f"function {fid!r} is defined again")
        ), None)
        if block is not None:
            fid, start = block
            kept.append(issue.model_copy(update={"message": f"{issue.message} (in the block of {fid!r} at line {start})"}))
        elif keep_others:
            kept.append(issue)
    return kept


def _inside(issue: ManifestIssue, fid: str) -> bool:
    field = f"functions.{fid}"
    return issue.field == field or issue.field.startswith((f"{field}.", f"{field}["))
