"""Bad manifests: every rule reports the right line and field, all issues come at once, secrets never show."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from syncer.manifest import ManifestError, ManifestIssue, load_manifest, parse_manifest_text
from syncer.manifest import rules

HEAD = "version: 1\nfunctions:\n  api:\n    name: API\n    runtime: python-3.12\n"  # lines 1-5


def issues_of(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[tuple[int, str, str]]:
    """(line, field, message) of every issue; fails if the manifest loads."""
    path = tmp_path / "functions.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    with pytest.raises(ManifestError) as caught:
        load_manifest(path, environ=environ or {})
    return [(issue.line, issue.field, issue.message) for issue in caught.value.issues]


def one_issue(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    found = issues_of(tmp_path, text, environ)
    assert len(found) == 1, found
    return found[0]


def with_field(line: str) -> str:
    """HEAD plus one more line in the function's mapping (it becomes line 6)."""
    return HEAD + f"    {line}\n"


# --- the error type -------------------------------------------------------------------------------------


def test_error_lists_one_line_per_issue_in_file_order() -> None:
    error = ManifestError(
        [
            ManifestIssue(file="functions.yaml", line=9, column=3, field="functions.b.timeout", message="too big"),
            ManifestIssue(file="functions.yaml", line=2, field="version", message="required"),
            ManifestIssue(file="functions.yaml", message="no place"),
        ]
    )

    assert str(error).splitlines() == [
        "functions.yaml: no place",
        "functions.yaml:2: version: required",
        "functions.yaml:9: functions.b.timeout: too big",
    ]
    with pytest.raises(Exception):  # noqa: B017 - frozen
        error.issues[0].line = 3  # type: ignore[misc]


# --- YAML level -----------------------------------------------------------------------------------------


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    line, field, message = one_issue(tmp_path, "version: 1\nfunctions:\n  api:\n    name: [unclosed\n    runtime: x\n")
    assert line == 5 and field == "" and message.startswith("YAML syntax error")


def test_control_characters_are_a_syntax_error(tmp_path: Path) -> None:
    line, _, message = one_issue(tmp_path, "version: 1\nfunctions: {}\n# \x07 bell\n")
    assert line == 3 and "U+0007" in message


@pytest.mark.parametrize(
    ("text", "first", "line", "field"),
    [
        ("version: 1\nfunctions: {}\nversion: 1\n", 1, 3, "version"),
        (HEAD + "  api:\n    name: Again\n    runtime: node-22\n", 3, 6, "functions.api"),
        (HEAD + "    variables:\n      KEY: a\n      OTHER: b\n      KEY: c\n", 7, 9, "functions.api.variables.KEY"),
        (HEAD + "    git: {branch: a, branch: b}\n", 6, 6, "functions.api.git.branch"),
    ],
)
def test_duplicate_keys_are_reported_where_repeated(tmp_path: Path, text: str, first: int, line: int, field: str) -> None:
    found_line, found_field, message = one_issue(tmp_path, text)
    assert (found_line, found_field) == (line, field)
    if field == "functions.api":  # a function id: both blocks named with file:line, each block validated
        assert message.startswith(f"function 'api' is defined again at {tmp_path}/functions.yaml:{line} (first at ")
        assert message.endswith(
            f"functions.yaml:{first}); a function id must be unique: rename or remove one block (the issues of each block are listed)"
        )
    else:
        assert message == (
            f"duplicate key {field.rsplit('.', 1)[-1]!r} (first defined on line {first}, again on line {line}); "
            "YAML would keep only one of them: remove or rename one"
        )


def test_yaml_oddities_are_issues_not_crashes(tmp_path: Path) -> None:
    assert one_issue(tmp_path, "")[2].startswith("a manifest must be a mapping")
    assert one_issue(tmp_path, "- a\n- b\n")[2].startswith("a manifest must be a mapping")
    recursive = issues_of(tmp_path, "version: 1\nfunctions: {}\nx-loop: &a [*a]\nprune: &b {keep: *b}\n")
    assert (4, "prune.keep", "a YAML alias refers to one of its own parents") in recursive
    assert one_issue(tmp_path, HEAD + "    ? [a, b]\n    : c\n")[2] == "a key must be plain text, not a list or mapping"
    assert "needs a mapping" in one_issue(tmp_path, HEAD + "    <<: [1]\n")[2]
    assert "more than" in one_issue(tmp_path, _alias_bomb())[2]


def _alias_bomb() -> str:
    lines = ["version: 1", "functions: {}", "x-0: &l0 [a, a, a, a, a, a, a, a, a, a]"]
    lines += [f"x-{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 8)]
    return "\n".join(lines) + "\n"


# --- keys and types --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("version: 1\nfunctions: {}\nfuntions: {}\n", 3, "funtions", "unknown key 'funtions' (did you mean 'functions'?)"),
        (with_field("timout: 3"), 6, "functions.api.timout", "unknown key 'timout' (did you mean 'timeout'?)"),
        (with_field("git: {repositoryID: r}"), 6, "functions.api.git.repositoryID", "did you mean 'repositoryId'?"),
        ("version: 1\nfunctions: {}\nprune: {kep: []}\n", 3, "prune.kep", "did you mean 'keep'?"),
        ("version: 1\nfunctions: {}\nenviroments: {}\n", 3, "enviroments", "did you mean 'environments'?"),
        ("version: 1\nfunctions: {}\nfoo: {}\n", 3, "foo", "(allowed: version, endpoint"),
    ],
)
def test_unknown_keys_suggest_the_closest(tmp_path: Path, text: str, line: int, field: str, message: str) -> None:
    found = one_issue(tmp_path, text)
    assert found[:2] == (line, field) and message in found[2]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("timeout: abc", "must be a whole number"),
        ("timeout: 1.5", "must be a whole number"),
        ("enabled: yes", "must be true or false"),
        ("logging: 1", "must be true or false"),
        ("execute: any", "must be a list, not text"),
        ("events: {a: b}", "must be a list, not a mapping"),
        ("commands: [a]", "must be text, not a list"),
        ("variables: [A]", "must be a mapping, not a list"),
        ("git: main", "must be a mapping, not text"),
        ("specification: ''", "must not be empty"),
    ],
)
def test_wrong_types(tmp_path: Path, line: str, message: str) -> None:
    key = line.split(":")[0]
    assert one_issue(tmp_path, with_field(line)) == (6, f"functions.api.{key}", message)


def test_variable_values_must_be_single_values(tmp_path: Path) -> None:
    found = one_issue(tmp_path, HEAD + "    variables:\n      A: ok\n      B: [x]\n")
    assert found[:2] == (8, "functions.api.variables.B") and "single value" in found[2]


def test_top_level_structure(tmp_path: Path) -> None:
    assert issues_of(tmp_path, "endpoint: x\n") == [
        (1, "version", "required"),
        (1, "endpoint", "must be an http:// or https:// URL, e.g. https://cloud.appwrite.io/v1"),
        (1, "functions", "required"),
    ]
    assert one_issue(tmp_path, "version: 2\nfunctions: {}\n") == (
        1, "version", "unsupported manifest version 2; this fnsync reads version 1",
    )
    assert one_issue(tmp_path, "version: 1\nfunctions: [a]\n")[1:] == ("functions", "must be a mapping, not a list")
    assert one_issue(tmp_path, "version: 1\nfunctions:\n  api:\n")[:2] == (3, "functions.api")
    assert one_issue(tmp_path, "version: 1\nproject: -bad\nfunctions: {}\n")[:2] == (2, "project")


# --- Appwrite field rules -----------------------------------------------------------------------------------


@pytest.mark.parametrize("function_id", ["-api", "_api", ".api", "a" * 37, "my api", "api$", "unique()", "runtimes", "é"])
def test_invalid_function_ids(tmp_path: Path, function_id: str) -> None:
    text = f'version: 1\nfunctions:\n  "{function_id}":\n    name: A\n    runtime: node-22\n'
    line, field, _ = one_issue(tmp_path, text)
    assert (line, field) == (3, f"functions.{function_id}")


def test_reserved_lock_function_id_is_refused_with_the_reason(tmp_path: Path) -> None:
    from syncer.reserved import LOCK_FUNCTION_ID

    text = f"version: 1\nfunctions:\n  {LOCK_FUNCTION_ID}:\n    name: A\n    runtime: node-22\n  api:\n    name: B\n    runtime: node-22\n"
    line, field, message = one_issue(tmp_path, text)
    assert (line, field) == (3, f"functions.{LOCK_FUNCTION_ID}")
    assert "fnsync reserves it for its project lock" in message and LOCK_FUNCTION_ID in message


@pytest.mark.parametrize("function_id", ["a", "A.b-c_d", "9lives", "a" * 36])
def test_valid_function_ids(tmp_path: Path, function_id: str) -> None:
    text = f'version: 1\nfunctions:\n  "{function_id}":\n    name: A\n    runtime: node-22\n'
    path = tmp_path / "functions.yaml"
    path.write_text(text)
    assert list(load_manifest(path, environ={}).functions) == [function_id]


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        ("timeout: 0", "timeout", "must be between 1 and 900 seconds"),
        ("timeout: 901", "timeout", "must be between 1 and 900 seconds"),
        ("entrypoint: " + "a" * 1029, "entrypoint", "must be at most 1028 characters (is 1029)"),
        ("git: {branch: " + "b" * 129 + "}", "git.branch", "must be at most 128 characters (is 129)"),
        ("execute: [" + ", ".join(["any"] * 101) + "]", "execute", "at most 100 entries are allowed"),
        ("scopes: [users.raed]", "scopes[0]", "not an Appwrite 1.6 API key scope (did you mean 'users.read'?)"),
        ("schedule: '0 0 31 2 *'", "schedule", "this schedule can never fire (no matching time in the next 10 years)"),
        ("events: [users.*.create, functions.*.create]", "events[1]", "Triggering a function on a function event is not allowed."),
        ("execute: [any, '*']", "execute[1]", 'Wildcard role "*" has been replaced. Use "any" instead.'),
    ],
)
def test_field_rules_report_line_and_field(tmp_path: Path, line: str, field: str, message: str) -> None:
    assert one_issue(tmp_path, with_field(line)) == (6, f"functions.api.{field}", message)


def test_name_length(tmp_path: Path) -> None:
    long_name = HEAD.replace("name: API", "name: " + "n" * 129)
    assert one_issue(tmp_path, long_name) == (4, "functions.api.name", "must be 1 to 128 characters")
    assert one_issue(tmp_path, HEAD.replace("name: API", "name: ''"))[2] == "must be 1 to 128 characters"


def test_list_items_point_at_their_own_line(tmp_path: Path) -> None:
    text = HEAD + "    events:\n      - users.*.create\n      - users.*.created\n      - buckets.*.files.*.delete\n"
    line, field, message = one_issue(tmp_path, text)
    assert (line, field) == (8, "functions.api.events[1]") and "did you mean 'users.*.create'?" in message


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("* * * * * *", "found 6 (a seconds field is not supported)"),
        ("* * * *", "exactly 5 fields"),
        ("@reboot", "unknown schedule alias"),
        ("@dialy", "did you mean '@daily'?"),
        ("61 * * * *", "not a valid cron expression"),
        ("H * * * *", "minute field has characters"),
        ("R * * * *", "minute field has characters"),
        ("0 ? * * *", "`?` is only allowed"),
        ("0 0 ? * ?", "can't be used in both"),
        ("0 0 30 2 *", "can never fire"),
        ("0 0 31 4,6,9,11 *", "can never fire"),
        ("0 0 * 13 *", "not a valid cron expression"),
    ],
)
def test_bad_schedules(schedule: str, problem: str) -> None:
    message = rules.cron(schedule)
    assert message is not None and problem in message
    assert schedule.lower() not in message.lower()  # never echoes the value


@pytest.mark.parametrize(
    "schedule",
    ["", "*/15 * * * *", "0 0 29 2 *", "0 9 * * MON-FRI", "0 0 L * *", "0 0 15W * *", "0 0 ? * MON", "0 0 * * 5#2",
     "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "0 0 1 JAN,JUL *"],
)  # fmt: skip
def test_good_schedules(schedule: str) -> None:
    assert rules.cron(schedule) is None


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        ("users", "2 to 7 dot-separated parts"),
        ("a.b.c.d.e.f.g.h", "2 to 7 dot-separated parts"),
        ("functions.*", "function event is not allowed"),
        ("functions.api.executions.*.create", "function event is not allowed"),
        ("user.*.create", "unknown event type (did you mean 'users'?)"),
        ("users..create", "empty parts"),
        ("users.*.created", "did you mean 'users.*.create'?"),
        ("users.*.update.mail", "did you mean 'users.*.update.email'?"),
        ("databases.*.collections.*.documents.*.upsert", "not an Appwrite event"),
        ("buckets.*.files.*.delete.name", "not an Appwrite event"),
        ("users.*.$resource", "not an Appwrite event"),
    ],
)
def test_bad_events(event: str, problem: str) -> None:
    message = rules.event(event)
    assert message is not None and problem in message


@pytest.mark.parametrize(
    "event",
    ["users.*", "users.*.create", "users.abc.update.email", "users.*.sessions.*.delete", "databases.*",
     "databases.db.collections.*.documents.*.update", "databases.*.collections.*.attributes.*", "buckets.*.files.*.create",
     "teams.*.memberships.*.update.status", "teams.*.update.prefs", "messages.*.create", "topics.*.subscribers.*.delete",
     "providers.*.delete", "rules.*.update", "buckets.*.files"],
)  # fmt: skip
def test_good_events(event: str) -> None:
    assert rules.event(event) is None


@pytest.mark.parametrize(
    ("role", "problem"),
    [
        ("*", 'Wildcard role "*" has been replaced. Use "any" instead.'),
        ("role:all", 'Roles using the "role:" prefix have been removed. Use "users", "guests", or "any" instead.'),
        ("admin", "unknown role. Must be one of: any, guests, users, user, team, member, label."),
        ("usres", "unknown role (did you mean 'users'?)"),
        ("user", 'Role "user" must have an ID value.'),
        ("any:x", 'Role "any" can not have an ID value.'),
        ("users/admins", 'Role "users" dimension value is invalid. Must be one of: verified, unverified.'),
        ("guests/verified", 'Role "guests" can not have a dimension value.'),
        ("member:m1/owner", 'Role "member" can not have a dimension value.'),
        ("team:t1/owner/extra", "Only one dimension can be provided."),
        ("users/", "Dimension must not be empty."),
        ("user:-bad", 'Role "user" identifier value is invalid'),
        ("label:with-dash", 'Role "label" identifier value is invalid'),
        ("team:t1/-x", 'Role "team" dimension value is invalid'),
    ],
)
def test_bad_roles(role: str, problem: str) -> None:
    message = rules.role(role)
    assert message is not None and problem in message


@pytest.mark.parametrize(
    "role",
    ["any", "guests", "users", "users/verified", "users/unverified", "user:abc", "user:abc/verified", "team:t1",
     "team:t1/owner", "member:m1", "label:vip2"],
)  # fmt: skip
def test_good_roles(role: str) -> None:
    assert rules.role(role) is None


def test_variable_key_and_value_limits(tmp_path: Path) -> None:
    text = HEAD + f'    variables:\n      "": empty\n      {"K" * 256}: long\n      OK: {"v" * 8193}\n'
    assert issues_of(tmp_path, text) == [
        (7, 'functions.api.variables.""', "a variable key must be 1 to 255 characters"),
        (8, f"functions.api.variables.{'K' * 256}", "a variable key must be 1 to 255 characters"),
        (9, "functions.api.variables.OK", "must be at most 8192 characters (is 8193)"),
    ]


def test_git_repository_needs_installation_and_branch(tmp_path: Path) -> None:
    text = HEAD + "    git:\n      repositoryId: repo\n"
    assert one_issue(tmp_path, text) == (
        7, "functions.api.git.repositoryId",
        "a repository needs `git.installationId` and `git.branch` too (Appwrite requires them)",
    )  # fmt: skip
    assert "`git.branch`" in one_issue(tmp_path, text + "      installationId: i\n")[2]


def test_name_and_runtime_are_required_after_defaults(tmp_path: Path) -> None:
    text = "version: 1\ndefaults:\n  timeout: 3\nfunctions:\n  a:\n    timeout: 4\n  b:\n    name: B\n"
    assert issues_of(tmp_path, text) == [
        (5, "functions.a.name", "required (set it here or under `defaults`)"),
        (5, "functions.a.runtime", "required (set it here or under `defaults`)"),
        (7, "functions.b.runtime", "required (set it here or under `defaults`)"),
    ]


# --- files on disk ----------------------------------------------------------------------------------------


def test_code_folder_entrypoint_and_includes_must_exist(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("")
    (tmp_path / "afile").write_text("")
    text = """\
        version: 1
        defaults:
          runtime: node-22
          entrypoint: index.js
        functions:
          missing:
            name: M
            path: nope
          file:
            name: F
            path: afile
          no-entry:
            name: E
            path: src
          includes:
            name: I
            path: src
            entrypoint: main.py
            include: [src, "src/*.py", gone, "*.none", /abs, "**bad"]
    """
    assert issues_of(tmp_path, text) == [
        (4, "defaults.entrypoint", "file 'index.js' not found in 'src'"),
        (8, "functions.missing.path", "folder 'nope' not found (paths are relative to the manifest's folder)"),
        (11, "functions.file.path", "'afile' is not a folder"),
        (19, "functions.includes.include[2]", "'gone' not found"),
        (19, "functions.includes.include[3]", "the pattern '*.none' matches nothing"),
        (19, "functions.includes.include[4]", "must be relative to the manifest's folder"),
        (19, "functions.includes.include[5]", "not a valid glob pattern"),
    ]


def test_impossible_paths_are_issues(tmp_path: Path) -> None:
    line, field, message = one_issue(tmp_path, with_field('path: "a\\0b"'))
    assert (line, field) == (6, "functions.api.path") and "not found" in message
    assert one_issue(tmp_path, with_field("path: " + "x" * 5000))[1] == "functions.api.path"


# --- interpolation ------------------------------------------------------------------------------------------


def test_missing_environment_variable_is_named_once(tmp_path: Path) -> None:
    text = with_field("timeout: ${FN_TIMEOUT}")
    assert one_issue(tmp_path, text) == (
        6, "functions.api.timeout",
        "environment variable FN_TIMEOUT is not set (set it, add it to .env, or use ${FN_TIMEOUT:-default})",
    )  # fmt: skip


@pytest.mark.parametrize("value", ["${1BAD}", "${}", "${OPEN", "${A:-${B}}", "${A:?err}"])
def test_malformed_interpolation(tmp_path: Path, value: str) -> None:
    line, field, message = one_issue(tmp_path, HEAD + f"    variables:\n      X: '{value}'\n", {"A": "a", "B": "b"})
    assert (line, field) == (7, "functions.api.variables.X")
    assert "interpolation" in message


def test_dotenv_syntax_errors_have_their_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("GOOD=1\nthis is not an assignment\n")
    issues = issues_of(tmp_path, HEAD)
    assert issues == [(2, "", "can't parse this line of .env")]


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    secret = "hunter2-SECRET"
    text = HEAD + "    timeout: ${TOKEN}\n    schedule: ${TOKEN}\n    execute: ['${TOKEN}']\n    events: ['${TOKEN}']\n"
    text += "    scopes: ['${TOKEN}']\n    variables:\n      LONG: ${LONG_TOKEN}\n"
    path = tmp_path / "functions.yaml"
    path.write_text(text)

    with pytest.raises(ManifestError) as caught:
        load_manifest(path, environ={"TOKEN": secret, "LONG_TOKEN": secret * 1000})

    assert len(caught.value.issues) == 6
    assert secret not in str(caught.value) and secret.lower() not in str(caught.value).lower()


# --- many at once, and the file itself -----------------------------------------------------------------------


def test_all_issues_are_reported_at_once(tmp_path: Path) -> None:
    text = """\
        version: 1
        functions:
          api:
            name: API
            runtime: python-3.12
            timeout: 0
            execute: [admins]
          api:
            name: Again
          -bad:
            name: Bad
            runtime: node-22
          worker:
            name: Worker
            runtime: node-22
            path: missing
            shedule: "@daily"
        unknown: 1
    """
    found = issues_of(tmp_path, text)
    assert [(line, field) for line, field, _ in found] == [
        (6, "functions.api.timeout"),
        (7, "functions.api.execute[0]"),
        (8, "functions.api"),
        (8, "functions.api.runtime"),  # the second block's own issue: it is validated too
        (10, "functions.-bad"),
        (17, "functions.worker.shedule"),
        (18, "unknown"),
    ]


def test_valid_functions_still_get_file_checks_when_others_fail(tmp_path: Path) -> None:
    text = HEAD + "    timeout: x\n  other:\n    name: O\n    runtime: node-22\n    path: nope\n"
    assert [(line, field) for line, field, _ in issues_of(tmp_path, text)] == [
        (6, "functions.api.timeout"),
        (10, "functions.other.path"),
    ]


def test_unreadable_manifests(tmp_path: Path) -> None:
    for path, message in [
        (tmp_path / "absent.yaml", "manifest not found"),
        (tmp_path, "can't read the manifest"),
    ]:
        with pytest.raises(ManifestError, match=message):
            load_manifest(path, environ={})
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"version: 1\n\xff\xfe")
    with pytest.raises(ManifestError, match="not UTF-8 text"):
        load_manifest(binary, environ={})


def test_issue_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest_text("version: 3\nfunctions: {}\n", tmp_path / "custom.yml", {}, dotenv_text="")
    assert caught.value.issues[0].file.endswith("custom.yml")
    assert str(caught.value).endswith("custom.yml:1: version: unsupported manifest version 3; this fnsync reads version 1")
