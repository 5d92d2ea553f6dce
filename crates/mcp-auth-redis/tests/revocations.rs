//! Revocations across replicas: every listener hears of a revocation recorded anywhere, one
//! cut off from Redis catches up when it reconnects, and one that missed entries trimmed away
//! meanwhile is told to drop everyone. A real redis-server; the cut is a real TCP relay closed.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use mcp_auth_redis::{
    RedisConfig, RedisConnection, RedisRevocations, Revoked, testing::RedisServer,
};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::JoinSet,
};

/// Generous on 2 busy cores; the propagation itself is measured in scripts/cluster-test.sh.
const DEADLINE: Duration = Duration::from_secs(10);

fn revocations(url: &str) -> RedisRevocations {
    let connection = RedisConnection::new(&RedisConfig::new(url).with_key_prefix("test:")).unwrap();
    RedisRevocations::new(&connection)
}

/// A listener whose reports arrive on the returned channel.
fn listen(
    record: &RedisRevocations,
) -> (mcp_auth_redis::RevocationListener, mpsc::UnboundedReceiver<Revoked>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let listener = record.listen(move |revoked| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(revoked);
        }
    });
    (listener, receiver)
}

async fn next(receiver: &mut mpsc::UnboundedReceiver<Revoked>) -> Revoked {
    tokio::time::timeout(DEADLINE, receiver.recv())
        .await
        .expect("a revocation within the deadline")
        .expect("the listener runs")
}

fn user(id: &str) -> Revoked {
    Revoked::User(id.to_owned())
}

#[tokio::test]
async fn a_revocation_recorded_anywhere_reaches_every_listener() {
    let redis = RedisServer::start_unix();
    let (_first, mut first) = listen(&revocations(&redis.url()));
    let (_second, mut second) = listen(&revocations(&redis.url()));
    let admin = revocations(&redis.url());

    let epoch = admin.revoke("alice").await.unwrap();
    admin.revoke("bob").await.unwrap();

    for receiver in [&mut first, &mut second] {
        assert_eq!(next(receiver).await, user("alice"));
        assert_eq!(next(receiver).await, user("bob"));
    }
    assert!(epoch.contains('-'), "{epoch}");
}

#[tokio::test]
async fn a_listener_cut_off_from_redis_catches_up_when_it_reconnects() {
    let redis = RedisServer::start_tcp();
    let relay = Relay::start(&redis.url()).await;
    let (listener, mut heard) = listen(&revocations(&relay.url()));
    let admin = revocations(&redis.url());
    admin.revoke("alice").await.unwrap();
    assert_eq!(next(&mut heard).await, user("alice"));
    let before = listener.epoch();

    relay.cut();
    admin.revoke("bob").await.unwrap();
    admin.revoke("carol").await.unwrap();
    relay.restore();

    assert_eq!(next(&mut heard).await, user("bob"));
    assert_eq!(next(&mut heard).await, user("carol"));
    assert!(listener.epoch() > before, "{} after {before}", listener.epoch());
}

#[tokio::test]
async fn a_listener_that_missed_trimmed_revocations_is_told_to_drop_everyone() {
    let redis = RedisServer::start_tcp();
    let relay = Relay::start(&redis.url()).await;
    let (_listener, mut heard) = listen(&revocations(&relay.url()));
    let admin = revocations(&redis.url()).with_max_entries(2);
    admin.revoke("alice").await.unwrap();
    assert_eq!(next(&mut heard).await, user("alice"));

    relay.cut();
    for id in ["bob", "carol", "dave", "erin"] {
        admin.revoke(id).await.unwrap();
    }
    relay.restore();

    // bob and carol were trimmed unread: nobody can say whose they were.
    assert_eq!(next(&mut heard).await, Revoked::Everyone);
    assert_eq!(next(&mut heard).await, user("dave"));
    assert_eq!(next(&mut heard).await, user("erin"));
}

#[tokio::test]
async fn a_revocation_while_redis_is_down_fails_with_an_error_that_names_no_user() {
    let mut redis = RedisServer::start_unix();
    let admin = revocations(&redis.url());
    admin.revoke("alice").await.unwrap();
    redis.kill();

    let error = admin.revoke("bob@example.com").await.unwrap_err();

    let message = error.to_string();
    assert!(message.starts_with("the revocation was not recorded in Redis"), "{message}");
    assert!(!message.contains("bob"), "{message}");
}

#[tokio::test]
async fn a_listener_started_while_redis_is_down_applies_what_was_recorded_meanwhile() {
    let redis = RedisServer::start_tcp();
    let relay = Relay::start(&redis.url()).await;
    relay.cut();
    let (_listener, mut heard) = listen(&revocations(&relay.url()));
    let admin = revocations(&redis.url());

    admin.revoke("alice").await.unwrap();
    relay.restore();

    assert_eq!(next(&mut heard).await, user("alice"));
}

/// A TCP relay to Redis that can be cut (every connection closed, new ones refused at once)
/// and restored: a replica losing its network path to Redis while Redis itself stays up.
struct Relay {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    links: Arc<std::sync::Mutex<JoinSet<()>>>,
    _accept: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(upstream_url: &str) -> Self {
        let upstream = upstream_url.trim_start_matches("redis://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let links = Arc::new(std::sync::Mutex::new(JoinSet::new()));
        let accept = tokio::spawn({
            let (cut, links) = (cut.clone(), links.clone());
            async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        continue; // dropped: the connection closes at once
                    }
                    let upstream = upstream.clone();
                    links.lock().unwrap().spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(&upstream).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                }
            }
        });
        Self { address, cut, links, _accept: accept }
    }

    fn url(&self) -> String {
        format!("redis://{}", self.address)
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.links.lock().unwrap().abort_all();
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}
