//! Key rotation: re-encrypting, under the keyring's current key, every row sealed under another
//! one — online, a batch per transaction.
//!
//! Why it is safe to run while the store is in use, and to kill at any point:
//!
//! - each batch is one `IMMEDIATE` transaction (it holds SQLite's write lock from its first
//!   read), so a row is read, re-sealed and written back with nothing in between; a put racing
//!   the rotation either lands before (and is rotated) or after (already under the new key);
//! - a killed batch rolls back as a whole (WAL), leaving each of its rows under its old key,
//!   intact; the committed batches stay under the new key. A row is never lost and never
//!   written in the clear: the plaintext exists only in memory, in wiped buffers;
//! - between batches the connection is released, so reads and puts go on during a long run.
//!
//! Rows that cannot be opened (their key is not in the keyring, or they were tampered with or
//! moved) are left as they are, audited and counted in [`RotationReport::failed`]; the scan
//! moves on by `rowid` so that they are not retried forever in one run.

use rusqlite::{Connection, TransactionBehavior, params};

use super::{StoreError, audit::Event, types::RotationReport};
use crate::{
    keys::Keyring,
    seal::{self, Sealed},
};

/// What one batch did.
pub(super) struct Batch {
    /// The highest `rowid` looked at: the next batch starts after it.
    pub(super) last_rowid: i64,
    pub(super) rotated: u64,
    pub(super) failed: u64,
    pub(super) events: Vec<Event>,
}

/// Re-encrypts up to `batch_size` rows after `after_rowid` not sealed under the current key, in
/// one transaction; `None` when no such row is left.
pub(super) fn rotate_batch(
    conn: &mut Connection,
    keyring: &Keyring,
    after_rowid: i64,
    batch_size: u32,
    actor: &str,
) -> Result<Option<Batch>, StoreError> {
    let current = keyring.current_id();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows = {
        let mut statement = tx.prepare_cached(
            "SELECT rowid, user_id, resource_type, key_id, nonce, ciphertext FROM credentials
             WHERE key_id != ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3",
        )?;
        statement
            .query_map(params![current, after_rowid, batch_size], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    Sealed { key_id: row.get(3)?, nonce: row.get(4)?, ciphertext: row.get(5)? },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?
    };
    let Some(last_rowid) = rows.last().map(|(rowid, ..)| *rowid) else {
        return Ok(None);
    };
    let mut batch = Batch { last_rowid, rotated: 0, failed: 0, events: Vec::new() };
    for (rowid, user_id, resource_type, old) in rows {
        let resealed = seal::open(keyring, &user_id, &resource_type, &old)
            .and_then(|secrets| seal::seal(keyring, &user_id, &resource_type, &secrets));
        match resealed {
            Ok(new) => {
                // Guarded by the old key id: the row is re-sealed only if it is still the row
                // that was read (always, inside this transaction; the guard documents it).
                tx.execute(
                    "UPDATE credentials SET key_id = ?2, nonce = ?3, ciphertext = ?4
                     WHERE rowid = ?1 AND key_id = ?5",
                    params![rowid, new.key_id, new.nonce, new.ciphertext, old.key_id],
                )?;
                batch.rotated += 1;
            }
            Err(error) => {
                tracing::error!(
                    target: super::audit::AUDIT_TARGET,
                    resource_type,
                    key_id = %old.key_id,
                    %error,
                    "key rotation skipped a credential that cannot be opened"
                );
                let event = Event::new(actor, "rotate_key", format!("undecryptable: {error}"))
                    .user(Some(&user_id))
                    .resource(Some(&resource_type));
                event.record(&tx)?;
                batch.events.push(event);
                batch.failed += 1;
            }
        }
    }
    let summary = Event::new(
        actor,
        "rotate_key",
        format!(
            "batch: {} re-encrypted under `{current}`, {} skipped",
            batch.rotated, batch.failed
        ),
    );
    summary.record(&tx)?;
    batch.events.push(summary);
    tx.commit()?;
    Ok(Some(batch))
}

/// Adds one batch to the report.
pub(super) fn tally(report: &mut RotationReport, batch: &Batch) {
    report.rotated += batch.rotated;
    report.failed += batch.failed;
    report.batches += 1;
}
