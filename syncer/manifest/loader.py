"""YAML text -> plain data plus where every key and item sits in the file.

PyYAML's constructors silently keep the last of two equal keys and forget line numbers, so we compose
the node graph with the safe loader and build the data ourselves:

- every scalar becomes its text (`str`) or `None` for YAML nulls. Types are decided later by the schema, so
  `PORT: 8080` keeps the text `8080`, `VERSION: 1.10` doesn't become `1.1`, and `on`/`no` stay words;
- keys are always text; a repeated key is an issue naming both lines (the first one is kept). For a function id
  defined twice, `load_yaml(..., occurrence=N)` keeps the N-th block instead, so that every block can be
  validated (`syncer.manifest.duplicates`); `Document.function_blocks` lists where each block starts;
- `<<` merge keys work as in YAML 1.1 (the mapping's own keys win);
- recursive aliases and alias bombs are issues, not hangs.

`Document.marks` maps a field path such as `("functions", "api", "timeout")` to its (line, column), so any
later stage can report a precise place. Transforms of the raw data (environment overlays) record in
`Document.aliases` where a moved value was written, so its issues still name that place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from syncer.manifest.errors import ManifestIssue

FieldPath = tuple[str | int, ...]
Mark = tuple[int, int]  # 1-based line and column

NULL_TAG = "tag:yaml.org,2002:null"
MERGE_TAG = "tag:yaml.org,2002:merge"
FUNCTIONS: FieldPath = ("functions",)
MAX_NODES = 100_000  # far above any real manifest; stops "billion laughs" alias expansion


@dataclass
class Document:
    """Raw manifest data with the place of every key and list item, and the issues found so far."""

    file: str  # the name used in messages
    data: Any
    marks: dict[FieldPath, Mark] = field(default_factory=dict)
    issues: list[ManifestIssue] = field(default_factory=list)
    aliases: dict[FieldPath, FieldPath] = field(default_factory=dict)  # data path -> where its value was written
    function_blocks: dict[str, list[int]] = field(default_factory=dict)  # function id -> line of each of its blocks

    def written_at(self, path: FieldPath) -> FieldPath:
        """The path in the file where the value now at `path` was written (differs for environment overrides)."""
        for end in range(len(path), 0, -1):
            origin = self.aliases.get(path[:end])
            if origin is not None:
                return origin + path[end:]
        return path

    def locate(self, path: FieldPath) -> Mark:
        """The place of `path`, or of its nearest ancestor present in the file (e.g. for a missing key)."""
        path = self.written_at(path)
        for end in range(len(path), -1, -1):
            mark = self.marks.get(path[:end])
            if mark is not None:
                return mark
        return (1, 1)

    def issue(self, path: FieldPath, message: str) -> ManifestIssue:
        line, column = self.locate(path)
        return ManifestIssue(file=self.file, line=line, column=column, field=field_name(self.written_at(path)), message=message)

    def add_issue(self, path: FieldPath, message: str) -> None:
        self.issues.append(self.issue(path, message))


def field_name(path: FieldPath) -> str:
    """`("functions", "api", "events", 1)` -> `functions.api.events[1]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            part = part or '""'  # an empty key must stay visible
            text += f".{part}" if text else part
    return text


def unquoted_value_hint(text: str, line: int) -> str:
    """`; quote it: schedule: "*/5 * * * *"` when the failing line holds a value YAML reads as syntax (a cron
    schedule starting with `*`, an `@` alias, a value with `: ` or ` #`)."""
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return ""
    key, sep, value = lines[line - 1].partition(":")
    value = value.strip()
    if not sep or not value or value[0] in "\"'[{":
        return ""
    if value[0] in "*@&!%`|>" or ": " in value:
        return f"; quote the value: {key.strip()}: \"{value}\""
    return ""


def load_yaml(text: str, file: str, occurrence: int = 0) -> Document:
    """Parse `text`; YAML syntax errors become issues (with their line) and leave `data` as None.

    `occurrence`: of a function id defined more than once under `functions:`, keep that block (0 = the first).
    """
    document = Document(file=file, data=None, marks={(): (1, 1)})
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # the reader rejects control characters right here
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        hint = unquoted_value_hint(text, line)
        document.issues.append(ManifestIssue(file=file, line=line, column=column, message=f"YAML syntax error: {problem}{hint}"))
        return document
    except yaml.reader.ReaderError as exc:  # control characters: a position, not a mark
        line = text.count("\n", 0, exc.position) + 1
        document.issues.append(
            ManifestIssue(file=file, line=line, message=f"YAML syntax error: {_codepoint(exc.character)} is not allowed")
        )
        return document
    except yaml.YAMLError as exc:
        document.issues.append(ManifestIssue(file=file, line=0, message=f"YAML syntax error: {exc}"))
        return document
    except RecursionError:
        document.issues.append(ManifestIssue(file=file, line=0, message="YAML nesting is too deep"))
        return document
    finally:
        if loader is not None:
            loader.dispose()
    if root is not None:
        builder = _Builder(document, occurrence)
        try:
            document.data = builder.build(root, ())
        except RecursionError:
            document.data = None
            document.add_issue((), "YAML nesting is too deep")
        except _TooLarge:
            document.data = None
            document.add_issue((), f"the manifest expands to more than {MAX_NODES} values (alias bomb?)")
    return document


class _TooLarge(Exception):
    pass


class _Builder:
    """Turns a composed node graph into str/None/list/dict data, recording marks and key problems."""

    def __init__(self, document: Document, occurrence: int = 0) -> None:
        self.document = document
        self.occurrence = occurrence
        self.count = 0
        self.active: set[int] = set()  # nodes being built, to catch recursive aliases

    def build(self, node: Node, path: FieldPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLarge
        if isinstance(node, ScalarNode):
            return None if node.tag == NULL_TAG else str(node.value)
        if id(node) in self.active:
            self.document.add_issue(path, "a YAML alias refers to one of its own parents")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, path)
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
            return None  # pragma: no cover - the composer makes only these three kinds
        finally:
            self.active.discard(id(node))

    def _sequence(self, node: SequenceNode, path: FieldPath) -> list[Any]:
        items = []
        for index, item in enumerate(node.value):
            self.document.marks[path + (index,)] = _mark(item)
            items.append(self.build(item, path + (index,)))
        return items

    def _mapping(self, node: MappingNode, path: FieldPath) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        own: dict[str, Any] = {}
        own_marks: dict[str, Mark] = {}
        seen: dict[str, list[int]] = {}  # key -> the line of each of its occurrences
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                for source in self._merge_sources(value_node, path):
                    for key, value in self.build(source, path).items():
                        merged.setdefault(key, value)
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            if not isinstance(key_node, ScalarNode):
                self.document.issues.append(self._issue_at(key_node, path, "a key must be plain text, not a list or mapping"))
                continue
            key = str(key_node.value)
            lines = seen.setdefault(key, [])
            lines.append(_mark(key_node)[0])
            if len(lines) > 1:
                self.document.issues.append(self._duplicate(key_node, path, key, lines[0]))
            if len(lines) - 1 != self._kept(node, path, key):
                continue
            own_marks[key] = _mark(key_node)
            self.document.marks[path + (key,)] = own_marks[key]
            own[key] = self.build(value_node, path + (key,))
        if path == FUNCTIONS:
            self.document.function_blocks = seen
        return {**merged, **own}

    def _duplicate(self, key_node: Node, path: FieldPath, key: str, first: int) -> ManifestIssue:
        line = _mark(key_node)[0]
        if path == FUNCTIONS:
            message = (
                f"function {key!r} is defined again at {self.document.file}:{line} (first at {self.document.file}:{first}); "
                "a function id must be unique: rename or remove one block (the issues of each block are listed)"
            )
        else:
            message = (
                f"duplicate key {key!r} (first defined on line {first}, again on line {line}); "
                "YAML would keep only one of them: remove or rename one"
            )
        return self._issue_at(key_node, path + (key,), message)

    def _kept(self, node: MappingNode, path: FieldPath, key: str) -> int:
        """Which occurrence of `key` is kept: the first, but the `occurrence`-th for a function id defined that often."""
        if path != FUNCTIONS or not self.occurrence:
            return 0
        count = sum(1 for k, _ in node.value if isinstance(k, ScalarNode) and str(k.value) == key)
        return self.occurrence if count > self.occurrence else 0

    def _merge_sources(self, value: Node, path: FieldPath) -> list[MappingNode]:
        sources = value.value if isinstance(value, SequenceNode) else [value]
        if all(isinstance(source, MappingNode) for source in sources):
            return list(sources)
        self.document.issues.append(self._issue_at(value, path, "a `<<` merge key needs a mapping or a list of mappings"))
        return []

    def _issue_at(self, node: Node, path: FieldPath, message: str) -> ManifestIssue:
        line, column = _mark(node)
        return ManifestIssue(file=self.document.file, line=line, column=column, field=field_name(path), message=message)


def _mark(node: Node) -> Mark:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _codepoint(character: object) -> str:
    """PyYAML reports the offending character as its code (an int) for text input."""
    code = character if isinstance(character, int) else ord(str(character)[:1] or "\0")
    return f"character U+{code:04X}"
