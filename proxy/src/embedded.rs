//! The store of `picops serve` without `--upstream`: a single-node Garage, the same S3 store
//! the test suites run picops against, started by picops on loopback ports with its data under
//! the data directory, and stopped with it. picops reaches it through the same signed S3
//! client as any upstream, so every code path is the one a real deployment takes.
//!
//! A file-system S3 emulation was used before; measured with the COS SDK's everyday calls it
//! lacked multipart listing, 1 MB parts, listing ETags, empty-delimiter and URL-encoded
//! listings and NoSuchBucket, all of which Garage has.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Credential;
use crate::config::Upstream;

/// Region the store signs for; any value works as long as both sides agree.
const REGION: &str = "garage";

/// What the store keeps across restarts, beside its own data.
#[derive(Serialize, Deserialize)]
struct State {
    rpc_secret: String,
    key_id: String,
    secret_key: String,
    /// The one-node layout has been applied.
    initialized: bool,
}

/// The running store: how picops reaches it, as the service and as each caller.
pub struct Embedded {
    pub service: Upstream,
    /// Caller access key → the store key picops signs with for that caller.
    pub callers: Vec<(String, Upstream)>,
    _process: Child,
}

fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("embedded store: no free port: {e}"))
}

/// The store key of a caller, for `sign_upstream_as = "caller"`: Garage keys have a fixed
/// form (`GK` + 24 hex digits, a 64-digit secret), so each caller's is derived from its own.
fn caller_key(c: &Credential) -> (String, String) {
    let id = Sha256::digest(format!("picops caller\n{}", c.access_key).as_bytes());
    let secret = Sha256::digest(
        format!("picops caller secret\n{}\n{}", c.access_key, c.secret_key).as_bytes(),
    );
    (format!("GK{}", &hex::encode(id)[..24]), hex::encode(secret))
}

struct Garage {
    bin: PathBuf,
    config: PathBuf,
}

impl Garage {
    fn run(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("embedded store: running {}: {e}", self.bin.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "embedded store: garage {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn import_key(&self, id: &str, secret: &str, name: &str) -> Result<(), String> {
        // Already imported on an earlier start: the store keeps its keys.
        if self.run(&["key", "info", id]).is_ok() {
            return Ok(());
        }
        self.run(&["key", "import", "--yes", "-n", name, id, secret])?;
        self.run(&["key", "allow", "--create-bucket", id])?;
        Ok(())
    }
}

/// Start the store; `callers` get keys of their own in it (for `sign_upstream_as = "caller"`).
pub fn start(
    data_dir: &Path,
    garage_bin: &Path,
    callers: &[Credential],
    timeout: Duration,
) -> Result<Embedded, String> {
    let root = data_dir.join("garage");
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    // The store's metadata holds every key's secret (picops' all-powerful one included) and
    // its data every object, in files Garage creates readable by all: the directory above
    // them is picops' user's only, also when an earlier version created it open.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", root.display()))?;
    }
    let state_file = root.join("picops-store.toml");
    let mut state: State = match std::fs::read_to_string(&state_file) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| format!("embedded store: {}: {e}", state_file.display()))?,
        Err(_) => State {
            rpc_secret: random_hex(32),
            key_id: format!("GK{}", random_hex(12)),
            secret_key: random_hex(32),
            initialized: false,
        },
    };
    let (s3_port, rpc_port) = (free_port()?, free_port()?);
    let config = root.join("garage.toml");
    let text = format!(
        "metadata_dir = {meta:?}\ndata_dir = {data:?}\ndb_engine = \"sqlite\"\n\
         replication_factor = 1\nrpc_bind_addr = \"127.0.0.1:{rpc_port}\"\n\
         rpc_public_addr = \"127.0.0.1:{rpc_port}\"\nrpc_secret = \"{secret}\"\n\n\
         [s3_api]\ns3_region = \"{REGION}\"\napi_bind_addr = \"127.0.0.1:{s3_port}\"\n\
         root_domain = \".s3.garage.localhost\"\n",
        meta = root.join("meta").display().to_string(),
        data = root.join("data").display().to_string(),
        secret = state.rpc_secret,
    );
    write_private(&config, &text)?;
    let log = std::fs::File::create(root.join("garage.log"))
        .map_err(|e| format!("embedded store log: {e}"))?;
    let mut command = Command::new(garage_bin);
    command
        .arg("-c")
        .arg(&config)
        .arg("server")
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log);
    die_with_parent(&mut command);
    let mut process = command.spawn().map_err(|e| {
        format!(
            "the embedded store is Garage, and {} could not be started ({e}); build it with \
             scripts/serve, or set store_bin (--store-bin, PICOPS_STORE_BIN), or front a store \
             with --upstream",
            garage_bin.display()
        )
    })?;
    let garage = Garage {
        bin: garage_bin.to_path_buf(),
        config,
    };
    let started = Instant::now();
    while garage.run(&["status"]).is_err() {
        if let Ok(Some(status)) = process.try_wait() {
            return Err(format!(
                "embedded store exited at start ({status}); see {}",
                root.join("garage.log").display()
            ));
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = process.kill();
            return Err("embedded store: Garage did not answer within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if !state.initialized {
        let node = garage.run(&["node", "id", "-q"])?;
        let node = node
            .trim()
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        garage.run(&["layout", "assign", "-z", "dc1", "-c", "1G", &node])?;
        garage.run(&["layout", "apply", "--version", "1"])?;
        state.initialized = true;
    }
    garage.import_key(&state.key_id, &state.secret_key, "picops")?;
    let mut caller_upstreams = Vec::new();
    let service = Upstream {
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        region: REGION.into(),
        access_key: state.key_id.clone(),
        secret_key: state.secret_key.clone(),
        timeout,
        // Loopback: nothing between picops and the store to guard the body against.
        sign_payload: false,
    };
    for c in callers {
        let (id, secret) = caller_key(c);
        garage.import_key(&id, &secret, &format!("caller {}", c.access_key))?;
        caller_upstreams.push((
            c.access_key.clone(),
            Upstream {
                access_key: id,
                secret_key: secret,
                ..service.clone()
            },
        ));
    }
    let saved = toml::to_string(&state).map_err(|e| e.to_string())?;
    write_private(&state_file, &saved)?;
    wait_for_s3(s3_port)?;
    tracing::info!(endpoint = %service.endpoint, data_dir = %root.display(), "embedded store (Garage) started");
    Ok(Embedded {
        service,
        callers: caller_upstreams,
        _process: process,
    })
}

/// The S3 port accepts connections (it opens a moment after the RPC one).
fn wait_for_s3(port: u16) -> Result<(), String> {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            return Err("embedded store: its S3 port did not open within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Secrets are in these files: readable by picops' user only.
fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The store stops when picops does, however picops ends (a crash or SIGKILL included).
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe, and nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_keys_have_garages_form_and_differ_per_caller() {
        let c = |k: &str, s: &str| Credential {
            access_key: k.into(),
            secret_key: s.into(),
            buckets: None,
            session_token: None,
        };
        let (id, secret) = caller_key(&c("AKIDalice", "s1"));
        assert!(id.starts_with("GK") && id.len() == 26, "{id}");
        assert_eq!(secret.len(), 64);
        assert_eq!(
            caller_key(&c("AKIDalice", "s1")),
            (id.clone(), secret.clone())
        );
        assert_ne!(caller_key(&c("AKIDbob", "s1")).0, id);
        assert_ne!(caller_key(&c("AKIDalice", "s2")).1, secret);
    }
}
