"""API key scopes a function may request on 1.9+: 1.6.2's list plus those of appwrite (PyPI) 20.1.0
`enums/project_key_scopes.py` (1.9.0 validates scopes against `projectScopes`, NEWER-SERVERS.md §2)."""

from __future__ import annotations

SCOPES_ADDED_1_9: tuple[str, ...] = (
    "project.read", "project.write", "keys.read", "keys.write", "platforms.read", "platforms.write", "mocks.read",
    "mocks.write", "policies.read", "policies.write", "project.policies.read", "project.policies.write",
    "templates.read", "templates.write", "oauth2.read", "oauth2.write", "sessions.read", "tables.read",
    "tables.write", "columns.read", "columns.write", "rows.read", "rows.write", "tokens.read", "tokens.write",
    "executions.read", "executions.write", "sites.read", "sites.write", "log.read", "log.write", "webhooks.read",
    "webhooks.write", "schedules.read", "schedules.write", "insights.read", "insights.write", "reports.read",
    "reports.write", "presences.read", "presences.write", "backups.policies.read", "backups.policies.write",
    "archives.read", "archives.write", "restorations.read", "restorations.write", "domains.read", "domains.write",
    "events.read", "apps.read", "apps.write", "usage.read",
)
