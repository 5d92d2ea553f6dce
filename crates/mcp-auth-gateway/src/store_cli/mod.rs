//! `mcp-auth credentials …`: the operator's hands on the built-in credential store
//! (`mcp_auth_store`), the same file `mcp-auth serve` (`[credentials] mode = "store"`) and
//! `mcp-auth tenant-manager` (`[store]`) use.
//!
//! | command | does |
//! |---|---|
//! | `gen-key [--id ID]` | prints a new keyring (one random 256-bit key, marked current) |
//! | `put --user U --resource R` | stores a credential; the token is read from stdin (or `--token-env`), never from the command line, which `ps` shows to every local user |
//! | `list [--user U]` | every credential, without secrets |
//! | `delete --user U --resource R` | deletes one |
//! | `revoke --user U` | deletes a user's credentials and records the revocation |
//! | `rotate-key` | re-encrypts every row under the keyring's current key (add the new key, marked `*`, first) |
//!
//! Every command but `gen-key` takes `--config FILE`: a gateway config with
//! `[credentials] mode = "store"` or a tenant manager's with `[store]` ([`config_file`]).
//! Every read and change is in the store's audit log, by actor `cli`.

mod config_file;

use std::{io::Read, path::PathBuf, time::SystemTime};

use clap::{Args, Subcommand};
use mcp_auth::Secret;
use mcp_auth_store::{CredentialInfo, CredentialStore, Keyring, NewCredential};

pub use self::config_file::{store_of_config, store_of_table};

/// The actor the audit log names for these commands.
const ACTOR: &str = "cli";

/// `mcp-auth credentials`.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Print a new keyring: one random 256-bit key, marked current (`*ID:BASE64`).
    GenKey {
        /// The new key's id.
        #[arg(long, default_value = "k1")]
        id: String,
    },
    /// Store a credential for a user and resource type (the token from stdin, or --token-env).
    Put(PutArgs),
    /// List the stored credentials, without their secrets.
    List {
        #[command(flatten)]
        store: StoreArg,
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
    },
    /// Delete a user's credential for a resource type.
    Delete {
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        user: String,
        #[arg(long)]
        resource: String,
    },
    /// Delete every credential of a user and record the revocation.
    Revoke {
        #[command(flatten)]
        store: StoreArg,
        #[arg(long)]
        user: String,
    },
    /// Re-encrypt every credential under the keyring's current key.
    RotateKey {
        #[command(flatten)]
        store: StoreArg,
        /// Rows per transaction (0: the store's default, 100).
        #[arg(long, default_value_t = 0)]
        batch_size: u32,
    },
}

/// The config file naming the store.
#[derive(Debug, Args)]
pub struct StoreArg {
    /// A gateway config with `[credentials] mode = "store"`, or a tenant manager's config.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

/// `mcp-auth credentials put`.
#[derive(Debug, Args)]
pub struct PutArgs {
    #[command(flatten)]
    store: StoreArg,
    /// Whose credential.
    #[arg(long)]
    user: String,
    /// For which resource type (a server's `resource_type`, `default` unless set).
    #[arg(long)]
    resource: String,
    /// Read the token from this environment variable instead of stdin.
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// Read a refresh token from this environment variable.
    #[arg(long, value_name = "VAR")]
    refresh_token_env: Option<String>,
    /// The token's lifetime: whole seconds or a number followed by s, m, h or d.
    #[arg(long, value_parser = crate::token::parse_ttl)]
    expires_in: Option<std::time::Duration>,
    /// Space-separated scopes granted.
    #[arg(long)]
    scopes: Option<String>,
}

/// Runs one `mcp-auth credentials` command on a runtime of its own; `Err` carries the message
/// for stderr.
pub fn run_blocking(command: CredentialsCommand) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime.block_on(run(command))
}

/// Runs one `mcp-auth credentials` command; `Err` carries the message for stderr.
pub async fn run(command: CredentialsCommand) -> Result<(), String> {
    match command {
        CredentialsCommand::GenKey { id } => {
            // `generate` names its key `k1`; a keyring of one key under `id` is the same
            // thing with another label.
            let keyring = match id.as_str() {
                "k1" => Keyring::generate(),
                _ => Keyring::generate()
                    .with_generated_key(&id)
                    .map_err(|error| error.to_string())?,
            };
            let exported = keyring.export();
            // Only the new key: the extra `k1` of `with_generated_key` is not wanted.
            let first = exported.expose().lines().next().unwrap_or_default();
            println!("{first}");
            Ok(())
        }
        CredentialsCommand::Put(args) => put(args).await,
        CredentialsCommand::List { store, user } => {
            let store = open(&store).await?;
            let listed = store.list(user.as_deref(), ACTOR).await.map_err(|e| e.to_string())?;
            println!("user\tresource\tstatus\texpires\tscopes\tkey");
            for info in listed {
                println!("{}", listing_line(&info));
            }
            Ok(())
        }
        CredentialsCommand::Delete { store, user, resource } => {
            let store = open(&store).await?;
            match store.delete(&user, &resource, ACTOR).await.map_err(|e| e.to_string())? {
                true => Ok(()),
                false => Err(format!("no credential of {user} for {resource}")),
            }
        }
        CredentialsCommand::Revoke { store, user } => {
            let store = open(&store).await?;
            let deleted = store.revoke_user(&user, ACTOR).await.map_err(|e| e.to_string())?;
            eprintln!("revoked {user}: {deleted} credential(s) deleted");
            Ok(())
        }
        CredentialsCommand::RotateKey { store, batch_size } => {
            let store = open(&store).await?;
            let report = store.rotate_key(batch_size, ACTOR).await.map_err(|e| e.to_string())?;
            eprintln!(
                "rotated {} credential(s) to key {} in {} batch(es); {} could not be opened",
                report.rotated, report.key_id, report.batches, report.failed
            );
            match report.failed {
                0 => Ok(()),
                n => Err(format!("{n} credential(s) could not be opened; see the audit log")),
            }
        }
    }
}

async fn put(args: PutArgs) -> Result<(), String> {
    let token = match &args.token_env {
        Some(var) => std::env::var(var).map_err(|_| format!("{var} is not set"))?,
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| format!("cannot read the token from stdin: {error}"))?;
            text
        }
    };
    let token = Secret::new(token.trim_end_matches(['\r', '\n']).to_owned());
    if token.expose().is_empty() {
        return Err("the token is empty".to_owned());
    }
    let mut credential = NewCredential::new(token);
    if let Some(var) = &args.refresh_token_env {
        let refresh = std::env::var(var).map_err(|_| format!("{var} is not set"))?;
        credential = credential.with_refresh_token(Secret::new(refresh));
    }
    if let Some(lifetime) = args.expires_in {
        credential = credential.with_expiry(SystemTime::now() + lifetime);
    }
    if let Some(scopes) = &args.scopes {
        credential = credential.with_scopes(scopes.split_whitespace());
    }
    let store = open(&args.store).await?;
    store
        .put(&args.user, &args.resource, credential, ACTOR)
        .await
        .map_err(|error| error.to_string())?;
    eprintln!("stored the credential of {} for {}", args.user, args.resource);
    Ok(())
}

async fn open(arg: &StoreArg) -> Result<CredentialStore, String> {
    let section = store_of_config(&arg.config)?;
    section.open(mcp_auth::UserIdLogging::default()).await
}

/// One line of `list`: tab-separated, times in RFC 3339, no secret.
fn listing_line(info: &CredentialInfo) -> String {
    let expires = info.expires_at.map_or_else(|| "-".to_owned(), rfc3339);
    let scopes = if info.scopes.is_empty() { "-".to_owned() } else { info.scopes.join(" ") };
    format!(
        "{}\t{}\t{}\t{expires}\t{scopes}\t{}",
        info.user_id,
        info.resource_type,
        info.status.as_str(),
        info.key_id
    )
}

fn rfc3339(at: SystemTime) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from(at).format(&Rfc3339).unwrap_or_else(|_| "?".to_owned())
}
