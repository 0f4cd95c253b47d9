"""The PostgreSQL store's schema: versioned migrations, applied once whoever of several replicas starts first.

Each migration commits with its version number, under an advisory lock that replicas starting together wait on; a
database newer than this fnsync is refused (upgrade fnsync rather than run old code on a new schema).
Also the receiving path's statements that do several things at once (fewer round trips, shorter lock holds).
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger("fnsync.webhook")
MIGRATION_LOCK = 0x666E73796E63  # "fnsync": the advisory lock replicas take to migrate one at a time

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE deliveries (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        provider TEXT NOT NULL,
        event TEXT NOT NULL,
        status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        received_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        queued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        key TEXT,
        job TEXT,
        body_hash TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        superseded_by TEXT,
        deployments TEXT NOT NULL DEFAULT '{}',
        lease_owner TEXT,
        lease_until TIMESTAMPTZ
    );
    CREATE UNIQUE INDEX deliveries_body ON deliveries (body_hash) WHERE body_hash IS NOT NULL;
    CREATE INDEX deliveries_queue ON deliveries (status, seq) WHERE status IN ('queued', 'deploying');
    CREATE INDEX deliveries_superseded_by ON deliveries (superseded_by) WHERE superseded_by IS NOT NULL;
    CREATE TABLE history (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_seq BIGINT NOT NULL REFERENCES deliveries (seq),
        at TEXT NOT NULL,
        status TEXT NOT NULL,
        message TEXT NOT NULL
    );
    CREATE INDEX history_seq ON history (delivery_seq);
    CREATE TABLE job_keys (
        key TEXT PRIMARY KEY,
        holder TEXT
    );
    CREATE TABLE heads (
        key TEXT PRIMARY KEY,
        sha TEXT NOT NULL,
        delivery_id TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE pr_comments (
        repo TEXT NOT NULL,
        number INTEGER NOT NULL,
        comment_id BIGINT NOT NULL,
        PRIMARY KEY (repo, number)
    );
    """,
)


def migrate(conninfo: str) -> int:
    """Bring the schema to the newest version; returns it. Replicas starting together wait on one advisory lock,
    and each migration commits with its version number, so a migration runs once whoever starts first."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS fnsync_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM fnsync_schema").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current > len(MIGRATIONS):
                raise RuntimeError(
                    f"the database schema is version {current}, newer than this fnsync knows ({len(MIGRATIONS)}): upgrade fnsync"
                )
            for version in range(current + 1, len(MIGRATIONS) + 1):
                with conn.transaction():
                    conn.execute(MIGRATIONS[version - 1])
                    conn.execute("INSERT INTO fnsync_schema (version) VALUES (%s)", (version,))
                log.info("database schema migrated to version %d", version)
            return len(MIGRATIONS)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


# --- statements of `PostgresStore.accept` (named parameters) ---

ACCEPT_IGNORED = """
WITH new AS (
    INSERT INTO deliveries (id, provider, event, status, reason, received_at, updated_at)
    SELECT %(id)s, %(provider)s, %(event)s, %(status)s, %(reason)s, %(now)s, %(now)s
    WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE id = %(id)s OR (%(hash)s::text IS NOT NULL AND body_hash = %(hash)s))
    ON CONFLICT DO NOTHING RETURNING seq
)
INSERT INTO history (delivery_seq, at, status, message) SELECT seq, %(now)s, %(status)s, %(reason)s FROM new
RETURNING delivery_seq
"""
# locks the key's row (its mutex) unless the delivery id or body is known already
LOCK_KEY_UNLESS_KNOWN = """
INSERT INTO job_keys (key) SELECT %(key)s
WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE id = %(id)s OR (%(hash)s::text IS NOT NULL AND body_hash = %(hash)s))
ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING key
"""
# the new job, the queued ones it replaces (only if it was inserted), both logged, and the other replicas told
ACCEPT_JOB = """
WITH new AS (
    INSERT INTO deliveries (id, provider, event, status, reason, received_at, updated_at, key, job, body_hash)
    VALUES (%(id)s, %(provider)s, %(event)s, %(queued)s, %(waiting)s, %(now)s, %(now)s, %(key)s, %(job)s, %(hash)s)
    ON CONFLICT DO NOTHING RETURNING seq
), replaced AS (
    UPDATE deliveries SET status = %(superseded)s, reason = %(why)s, superseded_by = %(id)s, updated_at = %(now)s
    WHERE seq = ANY(%(older)s::bigint[]) AND EXISTS (SELECT 1 FROM new) RETURNING seq
), logged AS (
    INSERT INTO history (delivery_seq, at, status, message)
    SELECT seq, %(now)s, %(queued)s, %(message)s FROM new
    UNION ALL SELECT seq, %(now)s, %(superseded)s, %(why)s FROM replaced
)
SELECT seq, pg_notify(%(channel)s, %(owner)s) FROM new
"""
