//! Every setting of `picops serve`, declared once: its `picops.toml` key, flag, `PICOPS_*`
//! environment variable, default (as a TOML value) and doc. `settings!` (in `declare.rs`)
//! generates `ServeArgs`, the file's structs, the layered `Settings`, `--help` and
//! `picops.example.toml` from this; `super::Config` turns `Settings` into the typed
//! configuration and validates it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::declare::settings;
use super::{CredentialFile, LogFormat, SignAs};

settings! {
    command_line_only {
        /// Configuration file (TOML; see picops.example.toml).
        #[arg(long, env = "PICOPS_CONFIG")]
        pub config: Option<PathBuf>,
        /// Access key of a client credential (with --secret-key); more in the config file as
        /// [[credentials]] or in --credentials-file.
        #[arg(long, env = "PICOPS_ACCESS_KEY", help_heading = "Authentication")]
        pub access_key: Option<String>,
        /// Secret key of the --access-key credential.
        #[arg(
            long,
            env = "PICOPS_SECRET_KEY",
            hide_env_values = true,
            help_heading = "Authentication"
        )]
        pub secret_key: Option<String>,
    }

    root {
        /// Address to listen on. Every request is authenticated (COS or SigV4 signatures),
        /// so any address may be used.
        listen: Option<SocketAddr> {
            key: "listen", flag: "listen", env: "PICOPS_LISTEN",
            default: "127.0.0.1:8080",
        }
        /// Address of the operations listener: /metrics, /healthz, /readyz ("off" disables it).
        ops_listen: Option<String> {
            key: "ops_listen", flag: "ops-listen", env: "PICOPS_OPS_LISTEN",
            default: "127.0.0.1:9090",
        }
        /// Log format: "text" or "json" (one object per line, with the request id).
        log_format: Option<LogFormat> {
            key: "log_format", flag: "log-format", env: "PICOPS_LOG_FORMAT",
            default: "text",
        }
        /// On SIGTERM, picops stops accepting at once and lets in-flight requests finish for
        /// up to this many seconds; it exits as soon as none is left.
        shutdown_grace_secs: Option<u64> {
            key: "shutdown_grace_secs", flag: "shutdown-grace-secs",
            env: "PICOPS_SHUTDOWN_GRACE_SECS",
            default: 30,
        }
        /// Data directory of the embedded S3 store, used when no upstream endpoint is set.
        data_dir: Option<PathBuf> {
            key: "data_dir", flag: "data-dir", env: "PICOPS_DATA_DIR",
            default: "picops-data",
        }
        /// The Garage binary picops runs as its embedded store (scripts/serve builds one).
        store_bin: Option<PathBuf> {
            key: "store_bin", flag: "store-bin", env: "PICOPS_STORE_BIN",
            default: "garage",
        }
        /// Threads running image processing (and pingora workers). Default: the number of
        /// cores.
        workers: Option<usize> {
            key: "workers", flag: "workers", env: "PICOPS_WORKERS",
            example: 2,
        }
        /// Virtual-host addressing: requests to <bucket>.<base domain> address <bucket>.
        /// <bucket>.cos.<region>.myqcloud.com is always recognised (COS SDKs send it).
        base_domains: Vec<String> {
            key: "base_domains", flag: "base-domain", env: "PICOPS_BASE_DOMAINS",
            example: ["s3.example.internal"],
        }
    }

    tables {
        /// A fixed custom domain → one bucket (cos-nodejs-sdk-v5 reaches buckets this way).
        /// Only in the file.
        domains: BTreeMap<String, String> {
            key: "domains",
            example: r#"
[domains]
"img.example.com" = "photos-1250000000"
"#,
        }
        /// Client credentials. Without any (here, in credentials_file or
        /// --access-key/--secret-key), picops generates one key pair at start and prints it.
        credentials: Vec<CredentialFile> {
            key: "credentials",
            example: r#"
[[credentials]]
access_key = "AKIDexample"
secret_key = "change-me"
# buckets = ["photos-1250000000"]   # only these buckets (also for every rule's `bucket`)
# session_token = "..."             # then requests must carry x-cos/x-amz-security-token
"#,
        }
        /// Styles per bucket: `style/<name>` in a rule stands for the rule given here. More can
        /// be added at run time with the COS style API (PUT /?style). Only in the file.
        styles: BTreeMap<String, BTreeMap<String, String>> {
            key: "styles",
            example: r#"
[styles."photos-1250000000"]
thumb = "imageMogr2/thumbnail/400x/format/webp"
"#,
        }
    }

    /// A real S3 store to front. Without `endpoint`, the embedded store is started.
    [upstream] UpstreamFile, heading: "Upstream" {
        /// S3 endpoint to front (http:// only), e.g. http://127.0.0.1:3900. Absent: an
        /// embedded store is started.
        upstream: Option<String> {
            key: "endpoint", flag: "upstream", env: "PICOPS_UPSTREAM",
            example: "http://127.0.0.1:9000",
        }
        /// Longest wait for one upstream request attempt, in seconds (3 attempts with
        /// backoff); the embedded store's too. At least 1.
        upstream_timeout_secs: Option<u64> {
            key: "timeout_secs", flag: "upstream-timeout-secs",
            env: "PICOPS_UPSTREAM_TIMEOUT_SECS",
            default: 30,
        }
        /// Region upstream requests are signed for.
        upstream_region: Option<String> {
            key: "region", flag: "upstream-region", env: "PICOPS_UPSTREAM_REGION",
            default: "us-east-1",
        }
        /// Access key picops signs upstream requests with (required with an endpoint).
        upstream_access_key: Option<String> {
            key: "access_key", flag: "upstream-access-key", env: "PICOPS_UPSTREAM_ACCESS_KEY",
            example: "minioadmin",
        }
        /// Secret key of the upstream access key.
        upstream_secret_key: Option<String> {
            key: "secret_key", flag: "upstream-secret-key", env: "PICOPS_UPSTREAM_SECRET_KEY",
            example: "minioadmin",
            hide_env_values: true,
        }
        /// Object features the store really performs: any of "sse-s3", "sse-kms", "sse-c",
        /// "acl", "tagging", "storage-classes". Requests asking for another are refused
        /// (501), because a store that ignores the headers answers success without doing it
        /// (plaintext kept, object not public). The embedded store (Garage) does "sse-c"
        /// only, which picops declares for it.
        upstream_features: Vec<String> {
            key: "features", flag: "upstream-features", env: "PICOPS_UPSTREAM_FEATURES",
            example: ["sse-c", "tagging"],
        }
    }

    [auth] AuthFile, heading: "Authentication" {
        /// TOML file of more [[credentials]] (e.g. a mounted Kubernetes Secret).
        credentials_file: Option<PathBuf> {
            key: "credentials_file", flag: "credentials-file", env: "PICOPS_CREDENTIALS_FILE",
            example: "/etc/picops/credentials.toml",
        }
        /// Buckets anyone may GET and HEAD objects of without signing.
        public_read: Vec<String> {
            key: "public_read", flag: "public-read", env: "PICOPS_PUBLIC_READ",
            example: ["public-1250000000"],
        }
        /// Buckets anyone may also list without signing (implies nothing else).
        public_list: Vec<String> {
            key: "public_list", flag: "public-list", env: "PICOPS_PUBLIC_LIST",
            example: ["public-1250000000"],
        }
        /// How far a SigV4 x-amz-date may be from picops' clock, in seconds.
        max_skew_secs: Option<u64> {
            key: "max_skew_secs", flag: "max-skew-secs", env: "PICOPS_MAX_SKEW_SECS",
            default: 900,
        }
        /// Longest validity a COS q-sign-time window may span, in seconds (7 days, as SigV4
        /// pre-signed URLs).
        max_sign_window_secs: Option<u64> {
            key: "max_sign_window_secs", flag: "max-sign-window-secs",
            env: "PICOPS_MAX_SIGN_WINDOW_SECS",
            default: 604_800,
        }
        /// Sign upstream requests with the "service" key (the [upstream] one, or the
        /// embedded store's) or with each "caller"'s own key (the upstream must know the
        /// same keys).
        sign_upstream_as: Option<SignAs> {
            key: "sign_upstream_as", flag: "sign-upstream-as", env: "PICOPS_SIGN_UPSTREAM_AS",
            default: "service",
        }
    }

    [limits] LimitsFile, heading: "Limits" {
        /// Largest body of a processed upload, in bytes (413 EntityTooLarge above).
        max_body: Option<u64> {
            key: "max_body", flag: "max-body", env: "PICOPS_MAX_BODY",
            default: 20_971_520 as DEFAULT_MAX_BODY,
        }
        /// Largest input width or height, in pixels (400 ImageTooLarge above).
        max_side: Option<u32> {
            key: "max_side", flag: "max-side", env: "PICOPS_MAX_SIDE",
            default: 30_000,
        }
        /// Largest input, in pixels of all frames together.
        max_pixels: Option<u64> {
            key: "max_pixels", flag: "max-pixels", env: "PICOPS_MAX_PIXELS",
            default: 250_000_000,
        }
        /// Most animation frames of an input.
        max_frames: Option<u32> {
            key: "max_frames", flag: "max-frames", env: "PICOPS_MAX_FRAMES",
            default: 300,
        }
        /// Largest output width or height, in pixels (400 InvalidArgument above).
        max_output_side: Option<u32> {
            key: "max_output_side", flag: "max-output-side", env: "PICOPS_MAX_OUTPUT_SIDE",
            default: 9_999,
        }
        /// Processing time of one request, in seconds (500 InternalError above, nothing
        /// written).
        processing_timeout_secs: Option<u64> {
            key: "processing_timeout_secs", flag: "processing-timeout-secs",
            env: "PICOPS_PROCESSING_TIMEOUT_SECS",
            default: 30,
        }
        /// Bytes of bodies and pixels all processing requests may hold at once (at least
        /// 1 MiB). The default, 768 MiB, keeps the process near 1 GiB with what the budget
        /// does not count (encoder and upstream client buffers, results being written), as
        /// measured by benches/memory.py.
        memory_budget: Option<u64> {
            key: "memory_budget", flag: "memory-budget", env: "PICOPS_MEMORY_BUDGET",
            default: 805_306_368 as DEFAULT_MEMORY_BUDGET,
        }
        /// How long a request waits for memory before 503 SlowDown, in milliseconds.
        admission_wait_ms: Option<u64> {
            key: "admission_wait_ms", flag: "admission-wait-ms", env: "PICOPS_ADMISSION_WAIT_MS",
            default: 2_000,
        }
        /// Idle keep-alive connections are closed after this many seconds.
        idle_timeout_secs: Option<u64> {
            key: "idle_timeout_secs", flag: "idle-timeout-secs", env: "PICOPS_IDLE_TIMEOUT_SECS",
            default: 60,
        }
        /// A request header must arrive within this many seconds once started (408).
        header_timeout_secs: Option<u64> {
            key: "header_timeout_secs", flag: "header-timeout-secs",
            env: "PICOPS_HEADER_TIMEOUT_SECS",
            default: 10,
        }
        /// Longest pause inside a request body, in seconds (408).
        body_idle_timeout_secs: Option<u64> {
            key: "body_idle_timeout_secs", flag: "body-idle-timeout-secs",
            env: "PICOPS_BODY_IDLE_TIMEOUT_SECS",
            default: 30,
        }
        /// Bytes per second a body must average after body_grace_secs (408).
        body_min_rate: Option<u64> {
            key: "body_min_rate", flag: "body-min-rate", env: "PICOPS_BODY_MIN_RATE",
            default: 4_096,
        }
        /// Seconds a body may take before body_min_rate applies.
        body_grace_secs: Option<u64> {
            key: "body_grace_secs", flag: "body-grace-secs", env: "PICOPS_BODY_GRACE_SECS",
            default: 10,
        }
        /// Processing requests per second per bucket (0: unlimited).
        rate_limit: Option<u32> {
            key: "rate_limit", flag: "rate-limit", env: "PICOPS_RATE_LIMIT",
            default: 100,
        }
        /// Anonymous processing requests per second per client address (an IPv6 client's
        /// /64), which do not draw on the bucket's rate (0: unlimited).
        anonymous_rate_limit: Option<u32> {
            key: "anonymous_rate_limit", flag: "anonymous-rate-limit",
            env: "PICOPS_ANONYMOUS_RATE_LIMIT",
            default: 20,
        }
    }

    /// Processing on GET (`GET /key?imageMogr2/...`).
    [get_processing] GetProcessingFile, heading: "Processing on GET" {
        /// Bytes of processed results kept in memory.
        get_cache_bytes: Option<usize> {
            key: "cache_bytes", flag: "get-cache-bytes", env: "PICOPS_GET_CACHE_BYTES",
            default: 67_108_864,
        }
        /// Cache-Control of processed answers.
        get_cache_control: Option<String> {
            key: "cache_control", flag: "get-cache-control", env: "PICOPS_GET_CACHE_CONTROL",
            default: "public, max-age=3600",
        }
    }
}
