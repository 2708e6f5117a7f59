//! The SQLite store's schema, its migrations, and the settings of every connection.

use rusqlite::{Connection, TransactionBehavior};

/// The schema's migrations, in order; `PRAGMA user_version` counts those applied. Times
/// are Unix milliseconds; a `NULL` `expires_at` never expires. `tenant` scopes every query.
const MIGRATIONS: [&str; 9] = [
    // (IF NOT EXISTS: databases made before migrations were counted have this already.)
    "CREATE TABLE IF NOT EXISTS tokens (
        token            TEXT    NOT NULL PRIMARY KEY,
        tenant           TEXT    NOT NULL,
        entity_a         TEXT    NOT NULL,
        entity_b         TEXT,
        label            TEXT,
        created_at       INTEGER NOT NULL,
        paired_at        INTEGER,
        expires_at       INTEGER,
        pair_ttl_seconds INTEGER
    ) STRICT;
    CREATE INDEX IF NOT EXISTS tokens_by_entity_a ON tokens (tenant, entity_a, created_at DESC, token DESC);
    CREATE INDEX IF NOT EXISTS tokens_by_entity_b ON tokens (tenant, entity_b, created_at DESC, token DESC);",
    // Short codes, idempotency keys, and the events that stats counted (until migration 4).
    "ALTER TABLE tokens ADD COLUMN code TEXT;
    ALTER TABLE tokens ADD COLUMN code_expires_at INTEGER;
    CREATE UNIQUE INDEX tokens_by_code ON tokens (code) WHERE code IS NOT NULL;
    CREATE TABLE idempotency (
        tenant       TEXT    NOT NULL,
        key          TEXT    NOT NULL,
        request_hash TEXT    NOT NULL,
        response     TEXT    NOT NULL,
        expires_at   INTEGER NOT NULL,
        PRIMARY KEY (tenant, key)
    ) STRICT;
    CREATE TABLE events (
        tenant     TEXT    NOT NULL,
        kind       TEXT    NOT NULL CHECK (kind IN ('paired', 'deleted')),
        at         INTEGER NOT NULL,
        latency_ms INTEGER
    ) STRICT;
    CREATE INDEX events_by_tenant ON events (tenant, kind, at);",
    // What the purge of long-expired records reads.
    "CREATE INDEX tokens_by_expiry ON tokens (expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);",
    // Fewer pages per write. A deletion marks the record (`deleted_at`, and `expires_at`
    // so that every read already treats it as gone) instead of removing it and writing an
    // event: the stats read deletions and time-to-pair from the records themselves, and
    // the purge removes them with the expired ones. Pending records have no entity B, so
    // the entity-B index leaves them out.
    "ALTER TABLE tokens ADD COLUMN deleted_at INTEGER;
    DROP INDEX tokens_by_entity_b;
    CREATE INDEX tokens_by_entity_b ON tokens (tenant, entity_b, created_at DESC, token DESC)
        WHERE entity_b IS NOT NULL;
    DROP TABLE events;",
    // Failed short-code attempts, per tenant, guesser (`*`: the tenant as a whole) and
    // hourly window (its start, Unix milliseconds).
    "CREATE TABLE code_failures (
        tenant       TEXT    NOT NULL,
        guesser      TEXT    NOT NULL,
        window_start INTEGER NOT NULL,
        failures     INTEGER NOT NULL,
        PRIMARY KEY (tenant, guesser, window_start)
    ) STRICT, WITHOUT ROWID;",
    // The requests each API key has taken of its budget, per clock second (its start,
    // Unix milliseconds), by every process on the file together.
    "CREATE TABLE rate_leases (
        key          TEXT    NOT NULL,
        second_start INTEGER NOT NULL,
        used         INTEGER NOT NULL,
        PRIMARY KEY (key, second_start)
    ) STRICT, WITHOUT ROWID;",
    // An entity B's listing is ordered by when it paired.
    "DROP INDEX tokens_by_entity_b;
    CREATE INDEX tokens_by_entity_b ON tokens (tenant, entity_b, paired_at DESC, token DESC)
        WHERE entity_b IS NOT NULL;",
    // Webhook endpoints (`events`: the event names, space-separated), the outbox of their
    // deliveries (one row per event and endpoint, written with the change that causes it;
    // `next_at`: when a pending one is due, or until when a worker holds it), and how far
    // the announcement of expired tokens has come.
    "CREATE TABLE webhooks (
        id                    TEXT    NOT NULL PRIMARY KEY,
        tenant                TEXT    NOT NULL,
        url                   TEXT    NOT NULL,
        events                TEXT    NOT NULL,
        description           TEXT,
        enabled               INTEGER NOT NULL,
        disabled_reason       TEXT,
        secret                TEXT    NOT NULL,
        previous_secret       TEXT,
        previous_secret_until INTEGER,
        failing_since         INTEGER,
        created_at            INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX webhooks_by_tenant ON webhooks (tenant, created_at);
    CREATE TABLE webhook_deliveries (
        id              INTEGER NOT NULL PRIMARY KEY,
        webhook_id      TEXT    NOT NULL,
        event_id        TEXT    NOT NULL,
        event_type      TEXT    NOT NULL,
        body            TEXT    NOT NULL,
        created_at      INTEGER NOT NULL,
        status          TEXT    NOT NULL
                        CHECK (status IN ('pending', 'delivered', 'failed', 'gone')),
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_at         INTEGER,
        last_attempt_at INTEGER,
        response_code   INTEGER,
        duration_ms     INTEGER,
        error           TEXT
    ) STRICT;
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE status = 'pending';
    CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id DESC);
    CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);
    CREATE TABLE webhook_sweep (
        id            INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
        expired_until INTEGER NOT NULL
    ) STRICT;",
    // Due deliveries by endpoint: the worker takes each endpoint's oldest few with a seek,
    // where one endpoint's backlog sorted across all of them cost a scan per claim.
    "DROP INDEX webhook_deliveries_due;
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (webhook_id, next_at)
        WHERE status = 'pending';",
];

/// Applies the migrations not applied yet, in one transaction.
pub(super) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let applied: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
    for migration in MIGRATIONS.iter().skip(applied.max(0) as usize) {
        tx.execute_batch(migration)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    tx.commit()
}

/// How every commit reaches the disk: `TANDEM_SQLITE_SYNC`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// `synchronous = FULL`: the WAL is synced at every commit, so an acknowledged write
    /// survives a power cut or an OS crash, not only `kill -9`.
    #[default]
    Full,
    /// `synchronous = NORMAL`: the WAL is synced only at checkpoints; an acknowledged write
    /// survives `kill -9` of the process, but a power cut may lose the last ones.
    Normal,
}

impl Durability {
    fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// How many prepared statements each connection keeps (every statement the store runs).
const STATEMENT_CACHE: usize = 64;

/// Settings of every connection: a busy timeout for the rare lock wait, the durability,
/// and room for every prepared statement.
pub(super) fn configure(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "synchronous", durability.pragma())?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}
