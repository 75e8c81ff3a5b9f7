//! Configuration of `picops serve`: defaults, overridden by `picops.toml`, overridden by
//! `PICOPS_*` environment variables, overridden by flags (lists are joined instead).
//!
//! Each setting is declared once, in `config/settings.rs` (flag, variable, file key,
//! default, doc); `config/declare.rs` generates the flags, the file's structs, the layering,
//! `--help` and `picops.example.toml` from those declarations. This file turns the layered
//! [`Settings`] into the typed [`Config`] the rest of picops reads, and validates it.

mod declare;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::auth::Credential;
use crate::style_rules::{validate_body, validate_name, ConfigStyles};
use crate::timeouts::SlowClientLimits;

pub use declare::{example_toml, Section, Setting, Table};
use settings::{FileConfig, Tables};
pub use settings::{
    ServeArgs, Settings, DEFAULT_MAX_BODY, DEFAULT_MEMORY_BUDGET, SECTIONS, SETTINGS, TABLES,
};

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

/// One `[[credentials]]` entry (of picops.toml or of the credentials file).
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
    /// The Garage binary of the embedded store.
    pub store_bin: PathBuf,
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
    /// Object features the store performs.
    pub store_features: crate::store_features::StoreFeatures,
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

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

impl Config {
    /// Reads `--config` (if any) and layers the flags and environment over it.
    pub fn load(args: &ServeArgs) -> Result<Config, String> {
        let file: FileConfig = match &args.config {
            Some(path) => read_toml(path)?,
            None => FileConfig::default(),
        };
        let (settings, tables) = Settings::layer(args, file)?;
        Config::resolve(args, settings, tables)
    }

    /// The typed configuration of layered settings: units applied, lower bounds enforced,
    /// credentials gathered, everything checked.
    fn resolve(args: &ServeArgs, s: Settings, tables: Tables) -> Result<Config, String> {
        use std::time::Duration;
        let upstream_timeout = Duration::from_secs(s.upstream_timeout_secs.max(1));
        let upstream = match s.upstream {
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
                    region: s.upstream_region,
                    access_key: s
                        .upstream_access_key
                        .ok_or("upstream access key missing (--upstream-access-key)")?,
                    secret_key: s
                        .upstream_secret_key
                        .ok_or("upstream secret key missing (--upstream-secret-key)")?,
                })
            }
        };
        let workers = s.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        });
        let mut entries = tables.credentials;
        if let Some(path) = &s.credentials_file {
            let f: CredentialsFile = read_toml(path)?;
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
        let ops_listen = match s.ops_listen.as_str() {
            "off" | "" => None,
            addr => Some(
                addr.parse::<SocketAddr>()
                    .map_err(|e| format!("ops_listen {addr:?}: {e}"))?,
            ),
        };
        for (bucket, styles) in &tables.styles {
            for (name, rule) in styles {
                validate_name(name)
                    .and_then(|()| validate_body(rule))
                    .map_err(|e| format!("[styles.{bucket}] {name}: {e}"))?;
            }
        }
        Ok(Config {
            listen: s.listen,
            upstream,
            data_dir: s.data_dir,
            store_bin: s.store_bin,
            base_domains: s.base_domains,
            domains: tables.domains,
            max_body: s.max_body,
            limits: picops_processor::Limits {
                max_side: s.max_side,
                max_pixels: s.max_pixels,
                max_frames: s.max_frames,
                max_output_side: s.max_output_side,
            },
            processing_timeout: Duration::from_secs(s.processing_timeout_secs),
            workers: workers.max(1),
            memory_budget: s.memory_budget.max(1 << 20),
            admission_wait: Duration::from_millis(s.admission_wait_ms),
            credentials,
            generated_credentials,
            public_read: s.public_read,
            public_list: s.public_list,
            store_features: crate::store_features::StoreFeatures::parse(&s.upstream_features)?,
            max_skew: Duration::from_secs(s.max_skew_secs),
            max_sign_window: Duration::from_secs(s.max_sign_window_secs),
            sign_upstream_as: s.sign_upstream_as,
            ops_listen,
            log_format: s.log_format,
            shutdown_grace: Duration::from_secs(s.shutdown_grace_secs),
            slow_clients: SlowClientLimits {
                idle: Duration::from_secs(s.idle_timeout_secs),
                header: Duration::from_secs(s.header_timeout_secs),
                body_idle: Duration::from_secs(s.body_idle_timeout_secs),
                body_min_rate: s.body_min_rate,
                body_grace: Duration::from_secs(s.body_grace_secs),
            },
            rate_limit: s.rate_limit,
            anonymous_rate_limit: s.anonymous_rate_limit,
            upstream_timeout,
            styles: ConfigStyles(tables.styles),
            get_cache_bytes: s.get_cache_bytes,
            get_cache_control: s.get_cache_control,
        })
    }
}
