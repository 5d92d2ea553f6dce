//! The synchronous SQL behind each [`CredentialStore`](super::CredentialStore) operation. Every
//! function runs on the store's one connection, on a blocking thread, and returns the audit
//! [`Event`] it recorded so that the caller can emit it after the commit.

use std::time::SystemTime;

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::{
    StoreError,
    audit::Event,
    from_secs, now_secs,
    types::{CredentialInfo, CredentialStatus, Lookup, StoredCredential},
};
use crate::{
    keys::Keyring,
    seal::{self, Sealed},
};

/// The columns [`info_from_row`] reads, in order.
const INFO_COLUMNS: &str =
    "user_id, resource_type, key_id, expires_at, scopes, status, created_at, updated_at";

fn info_from_row(row: &Row<'_>) -> rusqlite::Result<CredentialInfo> {
    let status: String = row.get(5)?;
    let status = status.parse().map_err(|()| {
        rusqlite::Error::FromSqlConversionFailure(
            5,
            rusqlite::types::Type::Text,
            "unknown credential status".into(),
        )
    })?;
    let scopes: String = row.get(4)?;
    Ok(CredentialInfo {
        user_id: row.get(0)?,
        resource_type: row.get(1)?,
        key_id: row.get(2)?,
        expires_at: row.get::<_, Option<i64>>(3)?.map(from_secs),
        scopes: scopes.split_whitespace().map(str::to_owned).collect(),
        status,
        created_at: from_secs(row.get(6)?),
        updated_at: from_secs(row.get(7)?),
    })
}

/// The row values of a put, already sealed.
pub(super) struct PutRow<'a> {
    pub(super) user_id: &'a str,
    pub(super) resource_type: &'a str,
    pub(super) sealed: &'a Sealed,
    pub(super) expires_at: Option<i64>,
    pub(super) scopes: &'a str,
}

/// Inserts or replaces a credential (status back to `active`) and lifts any revocation of the
/// user: storing a new credential is an explicit re-grant.
pub(super) fn put(
    conn: &mut Connection,
    row: &PutRow<'_>,
    actor: &str,
) -> Result<(CredentialInfo, Event), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_secs();
    let existed = tx
        .query_row(
            "SELECT 1 FROM credentials WHERE user_id = ?1 AND resource_type = ?2",
            params![row.user_id, row.resource_type],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    tx.execute(
        "INSERT INTO credentials (user_id, resource_type, key_id, nonce, ciphertext, expires_at,
                                  scopes, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'active', ?8, ?8)
         ON CONFLICT (user_id, resource_type) DO UPDATE SET
             key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
             expires_at = excluded.expires_at, scopes = excluded.scopes, status = 'active',
             updated_at = excluded.updated_at",
        params![
            row.user_id,
            row.resource_type,
            row.sealed.key_id,
            row.sealed.nonce,
            row.sealed.ciphertext,
            row.expires_at,
            row.scopes,
            now
        ],
    )?;
    let lifted =
        tx.execute("DELETE FROM revocations WHERE user_id = ?1", params![row.user_id])? > 0;
    let outcome = match (existed, lifted) {
        (false, false) => "created",
        (true, _) => "updated",
        (false, true) => "created; revocation lifted",
    };
    let event =
        Event::new(actor, "put", outcome).user(Some(row.user_id)).resource(Some(row.resource_type));
    event.record(&tx)?;
    let info = tx.query_row(
        &format!(
            "SELECT {INFO_COLUMNS} FROM credentials WHERE user_id = ?1 AND resource_type = ?2"
        ),
        params![row.user_id, row.resource_type],
        info_from_row,
    )?;
    tx.commit()?;
    Ok((info, event))
}

/// Reads and decrypts one credential. An undecryptable row is audited and reported, never
/// returned.
pub(super) fn lookup(
    conn: &Connection,
    keyring: &Keyring,
    user_id: &str,
    resource_type: &str,
    actor: &str,
) -> Result<(Lookup, Event), StoreError> {
    let found = conn
        .query_row(
            &format!(
                "SELECT {INFO_COLUMNS}, nonce, ciphertext FROM credentials
                 WHERE user_id = ?1 AND resource_type = ?2"
            ),
            params![user_id, resource_type],
            |row| Ok((info_from_row(row)?, row.get::<_, Vec<u8>>(8)?, row.get::<_, Vec<u8>>(9)?)),
        )
        .optional()?;
    let event = |outcome: &str| {
        Event::new(actor, "get", outcome).user(Some(user_id)).resource(Some(resource_type))
    };
    let Some((info, nonce, ciphertext)) = found else {
        let revoked_at = revoked_at(conn, user_id)?;
        let (lookup, event) = match revoked_at {
            Some(at) => (Lookup::Revoked { at }, event("revoked")),
            None => (Lookup::NotFound, event("not found")),
        };
        event.record(conn)?;
        return Ok((lookup, event));
    };
    let sealed = Sealed { key_id: info.key_id.clone(), nonce, ciphertext };
    match seal::open(keyring, user_id, resource_type, &sealed) {
        Ok(secrets) => {
            let event = event(&format!("found ({})", info.status));
            event.record(conn)?;
            let credential = StoredCredential {
                info,
                access_token: secrets.access_token,
                refresh_token: secrets.refresh_token,
            };
            Ok((Lookup::Found(credential), event))
        }
        Err(error) => {
            event(&format!("undecryptable: {error}")).record(conn)?;
            Err(StoreError::Undecryptable {
                resource_type: resource_type.to_owned(),
                key_id: sealed.key_id,
                reason: error.to_string(),
            })
        }
    }
}

/// When `user_id` was revoked, if it is.
pub(super) fn revoked_at(
    conn: &Connection,
    user_id: &str,
) -> Result<Option<SystemTime>, StoreError> {
    let at = conn
        .query_row(
            "SELECT revoked_at FROM revocations WHERE user_id = ?1",
            params![user_id],
            |row| row.get::<_, i64>(0),
        )
        .optional()?;
    Ok(at.map(from_secs))
}

/// Every credential (of one user, if given), without secrets, ordered by user and resource.
pub(super) fn list(
    conn: &Connection,
    user_id: Option<&str>,
    actor: &str,
) -> Result<(Vec<CredentialInfo>, Event), StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {INFO_COLUMNS} FROM credentials WHERE ?1 IS NULL OR user_id = ?1
         ORDER BY user_id, resource_type"
    ))?;
    let infos =
        statement.query_map(params![user_id], info_from_row)?.collect::<Result<Vec<_>, _>>()?;
    let event = Event::new(actor, "list", format!("{} credentials", infos.len())).user(user_id);
    event.record(conn)?;
    Ok((infos, event))
}

/// Deletes one credential; true when there was one.
pub(super) fn delete(
    conn: &mut Connection,
    user_id: &str,
    resource_type: &str,
    actor: &str,
) -> Result<(bool, Event), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let deleted = tx.execute(
        "DELETE FROM credentials WHERE user_id = ?1 AND resource_type = ?2",
        params![user_id, resource_type],
    )? > 0;
    let event = Event::new(actor, "delete", if deleted { "deleted" } else { "not found" })
        .user(Some(user_id))
        .resource(Some(resource_type));
    event.record(&tx)?;
    tx.commit()?;
    Ok((deleted, event))
}

/// Deletes every credential of `user_id` and records the revocation; returns how many rows
/// went.
pub(super) fn revoke_user(
    conn: &mut Connection,
    user_id: &str,
    actor: &str,
) -> Result<(u64, Event), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let deleted = tx.execute("DELETE FROM credentials WHERE user_id = ?1", params![user_id])?;
    tx.execute(
        "INSERT INTO revocations (user_id, revoked_at) VALUES (?1, ?2)
         ON CONFLICT (user_id) DO UPDATE SET revoked_at = excluded.revoked_at",
        params![user_id, now_secs()],
    )?;
    let event = Event::new(actor, "revoke_user", format!("revoked; {deleted} credentials deleted"))
        .user(Some(user_id));
    event.record(&tx)?;
    tx.commit()?;
    Ok((deleted as u64, event))
}

/// Sets the status of one credential; true when there was one.
pub(super) fn set_status(
    conn: &mut Connection,
    user_id: &str,
    resource_type: &str,
    status: CredentialStatus,
    actor: &str,
) -> Result<(bool, Event), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(
        "UPDATE credentials SET status = ?3, updated_at = ?4
         WHERE user_id = ?1 AND resource_type = ?2",
        params![user_id, resource_type, status.as_str(), now_secs()],
    )? > 0;
    let outcome = if changed { format!("status {status}") } else { "not found".to_owned() };
    let event =
        Event::new(actor, "set_status", outcome).user(Some(user_id)).resource(Some(resource_type));
    event.record(&tx)?;
    tx.commit()?;
    Ok((changed, event))
}
