//! Upstream faults: a fault-injecting TCP proxy sits between `picops serve` and a real S3
//! store (picops' embedded Garage, started by this test process; needs `PICOPS_STORE_BIN`). For each fault, a processing upload
//! gets a clear 5xx COS error, the store is left without any object of that request, and the
//! same upload succeeds once the fault is gone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::primitives::ByteStream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const CLIENT_KEY: &str = "AKIDfaults";
const CLIENT_SECRET: &str = "faults-secret";
const BUCKET: &str = "faults-bucket";
const RULES: &str = r#"{"rules":[{"fileid":"a.jpg","rule":"imageMogr2/thumbnail/32x"},{"fileid":"b.webp","rule":"imageMogr2/thumbnail/16x/format/webp"}]}"#;

/// What the fault proxy does to the traffic.
#[derive(Clone, Debug, PartialEq)]
enum Fault {
    None,
    /// Not listening: connections are refused.
    Down,
    /// PUT responses are held back this long (longer than picops' upstream timeout).
    SlowPuts(Duration),
    /// PUT connections are cut after part of the body has passed.
    ResetPuts,
    /// PUTs whose path contains this answer 500 (the request is not forwarded).
    FailPutsMatching(String),
    /// The first PUT of each path answers 503 once; later attempts pass (a transient fault).
    FailFirstPutOfEachPath,
}

struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    /// PUTs seen (every attempt).
    puts: Arc<AtomicUsize>,
}

fn image() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/images/edge/hopper.jpg");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The store: picops' own embedded store (the same code `picops serve` runs without
/// `--upstream`), with the key it signs with.
struct Store {
    addr: SocketAddr,
    dir: PathBuf,
    key: String,
    secret: String,
    region: String,
    _running: picops::embedded::Embedded,
}

async fn start_store() -> Store {
    let bin = std::env::var_os("PICOPS_STORE_BIN").expect(
        "PICOPS_STORE_BIN: the Garage binary the embedded store runs (scripts/test sets it)",
    );
    let dir = std::env::temp_dir().join(format!("picops-faults-{}", uuid::Uuid::new_v4()));
    let running = picops::embedded::start(
        &dir,
        std::path::Path::new(&bin),
        &[],
        Duration::from_secs(30),
    )
    .expect("embedded store");
    let up = running.service.clone();
    Store {
        addr: up
            .endpoint
            .trim_start_matches("http://")
            .parse()
            .expect("store address"),
        dir,
        key: up.access_key,
        secret: up.secret_key,
        region: up.region,
        _running: running,
    }
}

/// Read an HTTP/1.1 request head (through the blank line); returns it and any body bytes
/// read past it.
async fn read_head(s: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
    }
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0)
}

/// One request per connection: the request is forwarded with `Connection: close`, so the
/// proxy sees every request line and can decide a fault per request.
async fn handle(
    mut client: TcpStream,
    store: SocketAddr,
    fault: Fault,
    puts: Arc<AtomicUsize>,
    seen: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
) {
    let Some((head, mut body)) = read_head(&mut client).await else {
        return;
    };
    let line = head.lines().next().unwrap_or("").to_string();
    let is_put = line.starts_with("PUT ");
    let path = line.split(' ').nth(1).unwrap_or("").to_string();
    if is_put {
        puts.fetch_add(1, Ordering::SeqCst);
    }
    let fail = |status: &str, code: &str| {
        let xml = format!(
            "<?xml version=\"1.0\"?><Error><Code>{code}</Code><Message>injected</Message></Error>"
        );
        format!("HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}", xml.len())
    };
    match &fault {
        Fault::FailPutsMatching(m) if is_put && path.contains(m.as_str()) => {
            let _ = client
                .write_all(fail("500 Internal Server Error", "InternalError").as_bytes())
                .await;
            return;
        }
        Fault::FailFirstPutOfEachPath if is_put && seen.lock().unwrap().insert(path.clone()) => {
            let _ = client
                .write_all(fail("503 Service Unavailable", "ServiceUnavailable").as_bytes())
                .await;
            return;
        }
        _ => {}
    }
    let Ok(mut upstream) = TcpStream::connect(store).await else {
        return;
    };
    let mut out = String::new();
    for l in head.trim_end().lines() {
        if !l.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(l);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(out.as_bytes()).await.is_err() {
        return;
    }
    let mut remaining = content_length(&head).saturating_sub(body.len());
    if fault == Fault::ResetPuts && is_put {
        // Half the body reaches the store, then both connections drop.
        let half = body.len().min(content_length(&head) / 2);
        let _ = upstream.write_all(&body[..half]).await;
        return;
    }
    if upstream.write_all(&body).await.is_err() {
        return;
    }
    let mut chunk = vec![0u8; 64 * 1024];
    while remaining > 0 {
        let n = match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        body.clear();
        if upstream.write_all(&chunk[..n]).await.is_err() {
            return;
        }
        remaining = remaining.saturating_sub(n);
    }
    let mut response = Vec::new();
    let _ = upstream.read_to_end(&mut response).await;
    if let (Fault::SlowPuts(d), true) = (&fault, is_put) {
        tokio::time::sleep(*d).await;
    }
    let _ = client.write_all(&response).await;
    let _ = client.shutdown().await;
}

async fn start_fault_proxy(store: SocketAddr) -> FaultProxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = watch::channel(Fault::None);
    let puts = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let counter = puts.clone();
    tokio::spawn(async move {
        let mut listener = Some(listener);
        loop {
            if *rx.borrow() == Fault::Down {
                listener = None; // closed: connections are refused
                if rx.changed().await.is_err() {
                    return;
                }
                continue;
            }
            let l = match listener.take() {
                Some(l) => l,
                None => match TcpListener::bind(addr).await {
                    Ok(l) => l,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                },
            };
            tokio::select! {
                accepted = l.accept() => {
                    if let Ok((conn, _)) = accepted {
                        let fault = rx.borrow().clone();
                        tokio::spawn(handle(conn, store, fault, counter.clone(), seen.clone()));
                    }
                    listener = Some(l);
                }
                changed = rx.changed() => {
                    if changed.is_err() { return; }
                    listener = Some(l);
                }
            }
        }
    });
    FaultProxy {
        addr,
        fault: tx,
        puts,
    }
}

struct Picops {
    child: Child,
    port: u16,
}

impl Drop for Picops {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_picops(upstream: SocketAddr, store: &Store, data: &std::path::Path) -> Picops {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_picops"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--ops-listen",
            "off",
        ])
        .args(["--data-dir", &data.display().to_string()])
        .args([
            "--upstream",
            &format!("http://{upstream}"),
            "--upstream-region",
            &store.region,
        ])
        .args([
            "--upstream-access-key",
            &store.key,
            "--upstream-secret-key",
            &store.secret,
        ])
        .args(["--upstream-timeout-secs", "2"])
        .args(["--access-key", CLIENT_KEY, "--secret-key", CLIENT_SECRET])
        .env("PICOPS_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start picops");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "picops did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Picops { child, port }
}

fn s3(endpoint: String, key: &str, secret: &str, region: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key, secret, None, None, "test"))
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

struct Env {
    proxy: FaultProxy,
    _picops: Picops,
    client: aws_sdk_s3::Client,
    store: aws_sdk_s3::Client,
    _store: Store,
}

async fn env() -> Env {
    let running = start_store().await;
    let store = s3(
        format!("http://{}", running.addr),
        &running.key,
        &running.secret,
        &running.region,
    );
    store.create_bucket().bucket(BUCKET).send().await.unwrap();
    let proxy = start_fault_proxy(running.addr).await;
    let picops = start_picops(proxy.addr, &running, &running.dir.join("unused")).await;
    let client = s3(
        format!("http://127.0.0.1:{}", picops.port),
        CLIENT_KEY,
        CLIENT_SECRET,
        "us-east-1",
    );
    Env {
        proxy,
        _picops: picops,
        client,
        store,
        _store: running,
    }
}

/// A processing upload through picops: (HTTP status, error code if any).
async fn upload(client: &aws_sdk_s3::Client, key: &str) -> (u16, Option<String>) {
    let res = client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(image()))
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("pic-operations", RULES);
        })
        .send()
        .await;
    match res {
        Ok(_) => (200, None),
        Err(e) => {
            use aws_sdk_s3::error::ProvideErrorMetadata;
            let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            (status, e.code().map(str::to_string))
        }
    }
}

async fn keys(store: &aws_sdk_s3::Client) -> Vec<String> {
    let out = store.list_objects_v2().bucket(BUCKET).send().await.unwrap();
    let mut k: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    k.sort();
    k
}

async fn fails_cleanly_then_recovers(fault: Fault, dir: &str) -> Env {
    let env = env().await;
    env.proxy.fault.send_replace(fault.clone());
    let (status, code) = upload(&env.client, &format!("{dir}/src.jpg")).await;
    assert!(
        (500..600).contains(&status),
        "{fault:?}: status {status} {code:?}"
    );
    assert!(code.is_some(), "{fault:?}: a COS error code");
    env.proxy.fault.send_replace(Fault::None);
    assert_eq!(
        keys(&env.store).await,
        Vec::<String>::new(),
        "{fault:?}: nothing left behind"
    );
    let (status, code) = upload(&env.client, &format!("{dir}/src.jpg")).await;
    assert_eq!(
        (status, code),
        (200, None),
        "{fault:?}: the retry after recovery"
    );
    assert_eq!(
        keys(&env.store).await,
        vec![
            format!("{dir}/a.jpg"),
            format!("{dir}/b.webp"),
            format!("{dir}/src.jpg")
        ]
    );
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down() {
    fails_cleanly_then_recovers(Fault::Down, "down").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_slow() {
    fails_cleanly_then_recovers(Fault::SlowPuts(Duration::from_secs(4)), "slow").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_resets_connections_mid_request() {
    fails_cleanly_then_recovers(Fault::ResetPuts, "reset").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_fails_one_result_write_after_others_succeeded() {
    // The original and a.jpg are stored, b.webp fails on every attempt: picops removes the
    // two it wrote.
    let env =
        fails_cleanly_then_recovers(Fault::FailPutsMatching("b.webp".into()), "partial").await;
    assert!(
        env.proxy.puts.load(Ordering::SeqCst) >= 3 + 3,
        "every write attempted, b.webp retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_upstream_errors_are_retried() {
    let env = env().await;
    env.proxy.fault.send_replace(Fault::FailFirstPutOfEachPath);
    let (status, code) = upload(&env.client, "transient/src.jpg").await;
    assert_eq!((status, code), (200, None));
    assert_eq!(keys(&env.store).await.len(), 3);
    assert_eq!(
        env.proxy.puts.load(Ordering::SeqCst),
        6,
        "each of the 3 writes: one 503, one retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_with_upstream_down_is_a_502() {
    let env = env().await;
    env.proxy.fault.send_replace(Fault::Down);
    let err = env
        .client
        .get_object()
        .bucket(BUCKET)
        .key("x")
        .send()
        .await
        .unwrap_err();
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(502));
    env.proxy.fault.send_replace(Fault::None);
    env.client
        .put_object()
        .bucket(BUCKET)
        .key("plain.txt")
        .body(ByteStream::from_static(b"after recovery"))
        .send()
        .await
        .unwrap();
    assert_eq!(keys(&env.store).await, vec!["plain.txt".to_string()]);
}
