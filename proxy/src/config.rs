//! Configuration: `picops.toml`, overridden by `PICOPS_*` environment variables, overridden
//! by flags. See `picops.example.toml` for every key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use serde::Deserialize;

use crate::auth::Credential;
use crate::style_rules::{validate_body, validate_name, ConfigStyles};
use crate::timeouts::SlowClientLimits;

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Configuration file (TOML).
    #[arg(long, env = "PICOPS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long, env = "PICOPS_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// S3 endpoint to front, e.g. http://127.0.0.1:3900. Absent: an embedded store is started.
    #[arg(long, env = "PICOPS_UPSTREAM")]
    pub upstream: Option<String>,
    /// Longest wait for one upstream request attempt, in seconds (default 30).
    #[arg(long, env = "PICOPS_UPSTREAM_TIMEOUT_SECS")]
    pub upstream_timeout_secs: Option<u64>,
    #[arg(long, env = "PICOPS_UPSTREAM_REGION")]
    pub upstream_region: Option<String>,
    #[arg(long, env = "PICOPS_UPSTREAM_ACCESS_KEY")]
    pub upstream_access_key: Option<String>,
    #[arg(long, env = "PICOPS_UPSTREAM_SECRET_KEY", hide_env_values = true)]
    pub upstream_secret_key: Option<String>,
    /// Data directory of the embedded store.
    #[arg(long, env = "PICOPS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Base domain for virtual-host addressing (`<bucket>.<domain>`); repeatable.
    #[arg(
        long = "base-domain",
        env = "PICOPS_BASE_DOMAINS",
        value_delimiter = ','
    )]
    pub base_domains: Vec<String>,
    /// Largest body of a processed upload, in bytes.
    #[arg(long, env = "PICOPS_MAX_BODY")]
    pub max_body: Option<u64>,
    /// Threads of the blocking pool that runs image processing (default: number of cores).
    #[arg(long, env = "PICOPS_WORKERS")]
    pub workers: Option<usize>,
    /// Bytes of bodies and pixels all processing requests may hold at once.
    #[arg(long, env = "PICOPS_MEMORY_BUDGET")]
    pub memory_budget: Option<u64>,
    /// How long a request waits for memory before 503 SlowDown, in milliseconds.
    #[arg(long, env = "PICOPS_ADMISSION_WAIT_MS")]
    pub admission_wait_ms: Option<u64>,
    /// Access key of a client credential (with --secret-key); more in the config file.
    #[arg(long, env = "PICOPS_ACCESS_KEY")]
    pub access_key: Option<String>,
    #[arg(long, env = "PICOPS_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// TOML file of `[[credentials]]` (e.g. a mounted Kubernetes Secret).
    #[arg(long, env = "PICOPS_CREDENTIALS_FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Buckets anyone may GET and HEAD without signing; repeatable.
    #[arg(
        long = "public-read",
        env = "PICOPS_PUBLIC_READ",
        value_delimiter = ','
    )]
    pub public_read: Vec<String>,
    /// Buckets anyone may also list without signing (implies nothing else); repeatable.
    #[arg(
        long = "public-list",
        env = "PICOPS_PUBLIC_LIST",
        value_delimiter = ','
    )]
    pub public_list: Vec<String>,
    /// Longest validity a COS `q-sign-time` window may span, in seconds (default 604800, 7
    /// days, as SigV4 pre-signed URLs).
    #[arg(long, env = "PICOPS_MAX_SIGN_WINDOW_SECS")]
    pub max_sign_window_secs: Option<u64>,
    /// Sign upstream requests with the `service` key (default) or each `caller`'s own key.
    #[arg(long, env = "PICOPS_SIGN_UPSTREAM_AS")]
    pub sign_upstream_as: Option<SignAs>,
    /// Address of the operations listener: /metrics, /healthz, /readyz (default
    /// 127.0.0.1:9090; `off` disables it).
    #[arg(long, env = "PICOPS_OPS_LISTEN")]
    pub ops_listen: Option<String>,
    /// Processing requests per second per bucket (default 100; 0: unlimited).
    #[arg(long, env = "PICOPS_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Anonymous processing requests per second per client address (an IPv6 client's /64),
    /// which do not draw on the bucket's rate (default 20; 0: unlimited).
    #[arg(long, env = "PICOPS_ANONYMOUS_RATE_LIMIT")]
    pub anonymous_rate_limit: Option<u32>,
    /// Log format: `text` (default) or `json`.
    #[arg(long, env = "PICOPS_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// On SIGTERM: stop accepting at once, let in-flight requests finish for up to this many
    /// seconds, then exit (default 30).
    #[arg(long, env = "PICOPS_SHUTDOWN_GRACE_SECS")]
    pub shutdown_grace_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    /// One JSON object per line, with the request id of the request it concerns.
    Json,
}

/// Whose keys sign the requests picops sends upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SignAs {
    /// The `[upstream]` access key (or the embedded store's own).
    #[default]
    Service,
    /// The key the client signed with; the upstream must know the same keys.
    Caller,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct CredentialFile {
    access_key: String,
    secret_key: String,
    buckets: Option<Vec<String>>,
    session_token: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CredentialsFile {
    #[serde(default)]
    credentials: Vec<CredentialFile>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    credentials_file: Option<PathBuf>,
    #[serde(default)]
    public_read: Vec<String>,
    #[serde(default)]
    public_list: Vec<String>,
    max_skew_secs: Option<u64>,
    max_sign_window_secs: Option<u64>,
    sign_upstream_as: Option<SignAs>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    ops_listen: Option<String>,
    log_format: Option<LogFormat>,
    shutdown_grace_secs: Option<u64>,
    data_dir: Option<PathBuf>,
    workers: Option<usize>,
    #[serde(default)]
    upstream: UpstreamFile,
    #[serde(default)]
    base_domains: Vec<String>,
    /// Custom domain → bucket.
    #[serde(default)]
    domains: BTreeMap<String, String>,
    #[serde(default)]
    limits: LimitsFile,
    #[serde(default)]
    credentials: Vec<CredentialFile>,
    #[serde(default)]
    auth: AuthFile,
    /// Bucket → style name → rule.
    #[serde(default)]
    styles: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    get_processing: GetProcessingFile,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GetProcessingFile {
    cache_bytes: Option<usize>,
    cache_control: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct UpstreamFile {
    endpoint: Option<String>,
    timeout_secs: Option<u64>,
    region: Option<String>,
    access_key: Option<String>,
    secret_key: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_body: Option<u64>,
    max_side: Option<u32>,
    max_pixels: Option<u64>,
    max_frames: Option<u32>,
    max_output_side: Option<u32>,
    processing_timeout_secs: Option<u64>,
    memory_budget: Option<u64>,
    admission_wait_ms: Option<u64>,
    idle_timeout_secs: Option<u64>,
    header_timeout_secs: Option<u64>,
    body_idle_timeout_secs: Option<u64>,
    body_min_rate: Option<u64>,
    body_grace_secs: Option<u64>,
    rate_limit: Option<u32>,
    anonymous_rate_limit: Option<u32>,
}

/// Where upstream requests go and how they are signed.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `http://host:port`, no trailing slash.
    pub endpoint: String,
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// Longest wait for one upstream request attempt (also connect/read/write of passthrough).
    pub timeout: std::time::Duration,
    /// Whether writes carry their body's SHA-256 in the signature. Always, across a network
    /// (plain http has nothing else to protect the bytes); not to the embedded store, which
    /// runs in picops' own process, where hashing every write again bought nothing.
    pub sign_payload: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// `None`: start the embedded store in `data_dir`.
    pub upstream: Option<Upstream>,
    pub data_dir: PathBuf,
    pub base_domains: Vec<String>,
    pub domains: BTreeMap<String, String>,
    pub max_body: u64,
    pub limits: picops_processor::Limits,
    pub processing_timeout: std::time::Duration,
    pub workers: usize,
    pub memory_budget: u64,
    pub admission_wait: std::time::Duration,
    pub credentials: Vec<Credential>,
    /// No credential was configured: `credentials` holds one generated at start.
    pub generated_credentials: bool,
    pub public_read: Vec<String>,
    /// Buckets anonymous callers may list.
    pub public_list: Vec<String>,
    pub max_skew: std::time::Duration,
    /// Longest COS `q-sign-time` window accepted.
    pub max_sign_window: std::time::Duration,
    pub sign_upstream_as: SignAs,
    /// `None`: no operations listener.
    pub ops_listen: Option<SocketAddr>,
    pub log_format: LogFormat,
    pub shutdown_grace: std::time::Duration,
    pub slow_clients: SlowClientLimits,
    /// Processing requests per second per bucket (token bucket); 0 disables the limit.
    pub rate_limit: u32,
    /// Anonymous processing requests per second per client address; 0 disables the limit.
    pub anonymous_rate_limit: u32,
    /// For the embedded store too.
    pub upstream_timeout: std::time::Duration,
    pub styles: ConfigStyles,
    /// Bytes of GET-time processing results kept in memory.
    pub get_cache_bytes: usize,
    /// `Cache-Control` of GET-time processing results.
    pub get_cache_control: String,
}

pub const DEFAULT_MAX_BODY: u64 = 20 * 1024 * 1024;

/// Bodies and pixels of all requests together. 768 MiB, so that with what the budget does
/// not count (encoder and upstream client buffers, results being written) the process stays
/// near 1 GiB (measured by benches/memory.py).
pub const DEFAULT_MEMORY_BUDGET: u64 = 768 << 20;

/// A random key pair for a server started without any, printed at start.
fn generate_credential() -> Credential {
    use rand::distributions::{Alphanumeric, DistString};
    let mut rng = rand::thread_rng();
    Credential {
        access_key: format!("AKID{}", Alphanumeric.sample_string(&mut rng, 16)),
        secret_key: Alphanumeric.sample_string(&mut rng, 40),
        buckets: None,
        session_token: None,
    }
}

impl Config {
    pub fn load(args: &ServeArgs) -> Result<Config, String> {
        let file: FileConfig = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let upstream_timeout = std::time::Duration::from_secs(
            args.upstream_timeout_secs
                .or(file.upstream.timeout_secs)
                .unwrap_or(30)
                .max(1),
        );
        let endpoint = args.upstream.clone().or(file.upstream.endpoint);
        let upstream = match endpoint {
            None => None,
            Some(e) => {
                let endpoint = e.trim_end_matches('/').to_string();
                if !endpoint.starts_with("http://") {
                    return Err(format!(
                        "upstream {endpoint}: only http:// endpoints are supported"
                    ));
                }
                Some(Upstream {
                    endpoint,
                    timeout: upstream_timeout,
                    sign_payload: true,
                    region: args
                        .upstream_region
                        .clone()
                        .or(file.upstream.region)
                        .unwrap_or_else(|| "us-east-1".into()),
                    access_key: args
                        .upstream_access_key
                        .clone()
                        .or(file.upstream.access_key)
                        .ok_or("upstream access key missing (--upstream-access-key)")?,
                    secret_key: args
                        .upstream_secret_key
                        .clone()
                        .or(file.upstream.secret_key)
                        .ok_or("upstream secret key missing (--upstream-secret-key)")?,
                })
            }
        };
        let mut base_domains = args.base_domains.clone();
        base_domains.extend(file.base_domains);
        let defaults = picops_processor::Limits::default();
        let l = &file.limits;
        let workers = args.workers.or(file.workers).unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let mut entries = file.credentials;
        if let Some(path) = args.credentials_file.clone().or(file.auth.credentials_file) {
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let f: CredentialsFile =
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            entries.extend(f.credentials);
        }
        match (&args.access_key, &args.secret_key) {
            (Some(a), Some(s)) => entries.push(CredentialFile {
                access_key: a.clone(),
                secret_key: s.clone(),
                buckets: None,
                session_token: None,
            }),
            (None, None) => {}
            _ => return Err("--access-key and --secret-key go together".into()),
        }
        let mut credentials: Vec<Credential> = Vec::with_capacity(entries.len());
        for e in entries {
            if e.access_key.is_empty() || e.secret_key.is_empty() {
                return Err("a credential has an empty access_key or secret_key".into());
            }
            if credentials.iter().any(|c| c.access_key == e.access_key) {
                return Err(format!("access key {} is configured twice", e.access_key));
            }
            credentials.push(Credential {
                access_key: e.access_key,
                secret_key: e.secret_key,
                buckets: e.buckets,
                session_token: e.session_token,
            });
        }
        let generated_credentials = credentials.is_empty();
        if generated_credentials {
            credentials.push(generate_credential());
        }
        let ops_listen = match args
            .ops_listen
            .clone()
            .or(file.ops_listen)
            .as_deref()
            .unwrap_or("127.0.0.1:9090")
        {
            "off" | "" => None,
            addr => Some(
                addr.parse::<SocketAddr>()
                    .map_err(|e| format!("ops_listen {addr:?}: {e}"))?,
            ),
        };
        let mut public_read = args.public_read.clone();
        public_read.extend(file.auth.public_read);
        let mut public_list = args.public_list.clone();
        public_list.extend(file.auth.public_list);
        let secs =
            |v: Option<u64>, default: u64| std::time::Duration::from_secs(v.unwrap_or(default));
        let slow_clients = SlowClientLimits {
            idle: secs(l.idle_timeout_secs, 60),
            header: secs(l.header_timeout_secs, 10),
            body_idle: secs(l.body_idle_timeout_secs, 30),
            body_min_rate: l.body_min_rate.unwrap_or(4096),
            body_grace: secs(l.body_grace_secs, 10),
        };
        for (bucket, styles) in &file.styles {
            for (name, rule) in styles {
                validate_name(name)
                    .and_then(|()| validate_body(rule))
                    .map_err(|e| format!("[styles.{bucket}] {name}: {e}"))?;
            }
        }
        Ok(Config {
            get_cache_bytes: file.get_processing.cache_bytes.unwrap_or(64 << 20),
            get_cache_control: file
                .get_processing
                .cache_control
                .unwrap_or_else(|| "public, max-age=3600".into()),
            styles: ConfigStyles(file.styles),
            upstream_timeout,
            slow_clients,
            rate_limit: args.rate_limit.or(l.rate_limit).unwrap_or(100),
            anonymous_rate_limit: args
                .anonymous_rate_limit
                .or(l.anonymous_rate_limit)
                .unwrap_or(20),
            ops_listen,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            shutdown_grace: std::time::Duration::from_secs(
                args.shutdown_grace_secs
                    .or(file.shutdown_grace_secs)
                    .unwrap_or(30),
            ),
            credentials,
            generated_credentials,
            public_read,
            public_list,
            max_skew: std::time::Duration::from_secs(file.auth.max_skew_secs.unwrap_or(900)),
            max_sign_window: std::time::Duration::from_secs(
                args.max_sign_window_secs
                    .or(file.auth.max_sign_window_secs)
                    .unwrap_or(7 * 24 * 3600),
            ),
            sign_upstream_as: args
                .sign_upstream_as
                .or(file.auth.sign_upstream_as)
                .unwrap_or_default(),
            listen,
            upstream,
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("picops-data")),
            base_domains,
            domains: file.domains,
            max_body: args.max_body.or(l.max_body).unwrap_or(DEFAULT_MAX_BODY),
            limits: picops_processor::Limits {
                max_side: l.max_side.unwrap_or(defaults.max_side),
                max_pixels: l.max_pixels.unwrap_or(defaults.max_pixels),
                max_frames: l.max_frames.unwrap_or(defaults.max_frames),
                max_output_side: l.max_output_side.unwrap_or(defaults.max_output_side),
            },
            processing_timeout: std::time::Duration::from_secs(
                l.processing_timeout_secs.unwrap_or(30),
            ),
            workers: workers.max(1),
            memory_budget: args
                .memory_budget
                .or(l.memory_budget)
                .unwrap_or(DEFAULT_MEMORY_BUDGET)
                .max(1 << 20),
            admission_wait: std::time::Duration::from_millis(
                args.admission_wait_ms
                    .or(l.admission_wait_ms)
                    .unwrap_or(2000),
            ),
        })
    }
}
