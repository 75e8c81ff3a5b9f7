use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use clap::{CommandFactory, Parser};

use super::*;

/// `picops serve` as the binary parses it (cli.rs wraps the same `ServeArgs`), declared here
/// so that configuration does not import the command line that imports it.
#[derive(Parser, Debug)]
#[command(name = "picops")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    Serve(Box<ServeArgs>),
}

/// The environment is the process's: tests that read or set it take turns.
static ENV: Mutex<()> = Mutex::new(());

fn serve_command() -> clap::Command {
    Cli::command()
        .find_subcommand("serve")
        .expect("picops serve")
        .clone()
}

/// Every environment variable `picops serve` reads.
fn serve_envs() -> Vec<String> {
    serve_command()
        .get_arguments()
        .filter_map(|a| a.get_env())
        .map(|e| e.to_string_lossy().into_owned())
        .collect()
}

/// `picops serve <flags>` with exactly `env` among its environment variables, and a
/// `picops.toml` holding `file` (if any). The other `PICOPS_*` variables are unset meanwhile.
fn load(flags: &[&str], env: &[(&str, &str)], file: Option<&str>) -> Result<Config, String> {
    let path = file.map(write_file);
    let mut argv = vec!["picops".to_string(), "serve".to_string()];
    if let Some(p) = &path {
        argv.extend(["--config".to_string(), p.display().to_string()]);
    }
    argv.extend(flags.iter().map(|f| f.to_string()));
    let args = parse(&argv, env).map_err(|e| e.to_string())?;
    let config = Config::load(&args);
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    config
}

fn parse(argv: &[String], env: &[(&str, &str)]) -> Result<ServeArgs, clap::Error> {
    let _turn = ENV.lock().unwrap_or_else(|e| e.into_inner());
    let saved: Vec<(String, Option<std::ffi::OsString>)> = serve_envs()
        .into_iter()
        .map(|name| {
            let value = std::env::var_os(&name);
            (name, value)
        })
        .collect();
    for (name, _) in &saved {
        std::env::remove_var(name);
    }
    for (name, value) in env {
        std::env::set_var(name, value);
    }
    let parsed = Cli::try_parse_from(argv);
    for (name, _) in env {
        std::env::remove_var(name);
    }
    for (name, value) in saved {
        if let Some(v) = value {
            std::env::set_var(name, v);
        }
    }
    match parsed?.command {
        Command::Serve(args) => Ok(*args),
    }
}

fn write_file(text: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "picops-config-test-{}-{}.toml",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, text).expect("write test config");
    path
}

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../picops.example.toml")
}

#[test]
fn every_setting_has_a_flag_an_environment_variable_and_a_file_key() {
    let command = serve_command();
    let mut flags = BTreeSet::new();
    let mut envs = BTreeSet::new();
    let mut paths = BTreeSet::new();
    for s in SETTINGS {
        assert!(!s.key.is_empty() && !s.flag.is_empty(), "{s:?}");
        assert!(!s.doc.is_empty(), "{} has no doc", s.path());
        assert!(flags.insert(s.flag), "flag --{} declared twice", s.flag);
        assert!(envs.insert(s.env), "{} declared twice", s.env);
        assert!(paths.insert(s.path()), "{} declared twice", s.path());
        // The naming rule: PICOPS_ and the flag (a list's variable is plural).
        let expected = format!("PICOPS_{}", s.flag.to_uppercase().replace('-', "_"));
        assert!(
            s.env == expected || (s.list && s.env == format!("{expected}S")),
            "{}: {} is not {expected}",
            s.path(),
            s.env
        );
        let arg = command
            .get_arguments()
            .find(|a| a.get_long() == Some(s.flag))
            .unwrap_or_else(|| panic!("no flag --{}", s.flag));
        assert_eq!(
            arg.get_env().map(|e| e.to_string_lossy().into_owned()),
            Some(s.env.to_string()),
            "--{}",
            s.flag
        );
        assert!(
            s.default.is_some() || s.example.is_some(),
            "{}: neither a default nor an example",
            s.path()
        );
        // Its default and example are values of its type, also read from the file at its key.
        for value in s.default.iter().chain(&s.example) {
            (s.check)(value).unwrap_or_else(|e| panic!("{} = {value}: {e}", s.path()));
            let text = if s.section.is_empty() {
                format!("{} = {value}\n", s.key)
            } else {
                format!("[{}]\n{} = {value}\n", s.section, s.key)
            };
            toml::from_str::<FileConfig>(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }
    // Every flag of `picops serve` is a setting, but these, which have no place in a file
    // (the file itself; one credential, which the file holds as [[credentials]]).
    let command_line_only = ["config", "access-key", "secret-key"];
    for arg in command.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if long == "help" || command_line_only.contains(&long) {
            assert!(
                arg.get_env().is_some() || long == "help",
                "--{long} has no variable"
            );
            continue;
        }
        assert!(flags.contains(long), "--{long} is not a declared setting");
    }
    // The file's tables are named once.
    let sections: BTreeSet<_> = SECTIONS.iter().map(|s| s.name).collect();
    for t in TABLES {
        assert!(
            !sections.contains(t.key) && !paths.contains(t.key),
            "{}",
            t.key
        );
    }
}

/// `picops.example.toml` is written from the declarations; regenerate it with
/// `PICOPS_WRITE_EXAMPLE=1 cargo test -p picops --lib config::tests::example_file_is_generated`.
#[test]
fn example_file_is_generated() {
    let generated = example_toml();
    let path = example_path();
    if std::env::var_os("PICOPS_WRITE_EXAMPLE").is_some() {
        std::fs::write(&path, &generated).expect("write picops.example.toml");
    }
    let written = std::fs::read_to_string(&path).expect("picops.example.toml");
    assert!(
        written == generated,
        "picops.example.toml differs from the declarations in proxy/src/config/settings.rs; \
         run PICOPS_WRITE_EXAMPLE=1 cargo test -p picops --lib config::tests::example_file_is_generated"
    );
}

/// Independent of the generator: the example file holds every setting, active with its
/// default where it has one, commented out in its table where it has none, and is accepted.
#[test]
fn example_file_holds_every_setting_with_its_default() {
    let text = std::fs::read_to_string(example_path()).expect("picops.example.toml");
    let doc: toml::Table = toml::from_str(&text).expect("picops.example.toml parses");
    for s in SETTINGS {
        let table = if s.section.is_empty() {
            Some(&doc)
        } else {
            doc.get(s.section).and_then(|t| t.as_table())
        };
        let table = table.unwrap_or_else(|| panic!("[{}] missing", s.section));
        match s.default {
            Some(default) => {
                let expected: toml::Value = declare::parse_value(default).expect("default");
                assert_eq!(
                    table.get(s.key),
                    Some(&expected),
                    "{} in the example",
                    s.path()
                );
            }
            None => {
                assert!(
                    table.get(s.key).is_none(),
                    "{} has no default to show",
                    s.path()
                );
                // Commented out, under its own table header.
                let mut current = "";
                let found = text.lines().any(|line| {
                    if line.starts_with('[') {
                        current = line.trim_matches(|c| c == '[' || c == ']');
                    }
                    current == s.section && line.starts_with(&format!("# {} = ", s.key))
                });
                assert!(found, "{} is not shown in the example", s.path());
            }
        }
    }
    for t in TABLES {
        assert!(
            doc.contains_key(t.key),
            "[{}] is not shown in the example",
            t.key
        );
    }
    let config = load(&[], &[], Some(&text)).expect("the example configuration loads");
    assert!(!config.generated_credentials);
    assert_eq!(config.domains.len(), 1);
}

#[test]
fn help_shows_every_flag_variable_default_and_file_key() {
    let help = serve_command().render_long_help().to_string();
    for s in SETTINGS {
        assert!(help.contains(&format!("--{} <", s.flag)), "--{}", s.flag);
        assert!(help.contains(&format!("[env: {}", s.env)), "{}", s.env);
        assert!(
            help.contains(&format!("[picops.toml: {}]", s.path())),
            "{}",
            s.path()
        );
        if let Some(d) = s.default {
            let shown = format!("[default: {}]", declare::shown(d));
            assert!(help.contains(&shown), "--{}: {shown}", s.flag);
        }
    }
    for section in SECTIONS {
        assert!(
            help.contains(&format!("{}:", section.heading)),
            "{}",
            section.heading
        );
    }
}

/// The defaults, as the literal values `Config::load` used before they were declared.
#[test]
fn defaults_when_nothing_is_set() {
    let c = load(&[], &[], None).unwrap();
    assert_eq!(c.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
    assert_eq!(c.ops_listen, Some(SocketAddr::from(([127, 0, 0, 1], 9090))));
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.shutdown_grace, Duration::from_secs(30));
    assert_eq!(c.data_dir, PathBuf::from("picops-data"));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert_eq!(c.workers, cores);
    assert!(c.upstream.is_none());
    assert_eq!(c.upstream_timeout, Duration::from_secs(30));
    assert!(c.base_domains.is_empty() && c.domains.is_empty());
    assert_eq!(c.max_body, 20 * 1024 * 1024);
    assert_eq!(DEFAULT_MAX_BODY, 20 * 1024 * 1024);
    let limits = picops_processor::Limits::default();
    assert_eq!(c.limits.max_side, limits.max_side);
    assert_eq!(c.limits.max_pixels, limits.max_pixels);
    assert_eq!(c.limits.max_frames, limits.max_frames);
    assert_eq!(c.limits.max_output_side, limits.max_output_side);
    assert_eq!(c.processing_timeout, Duration::from_secs(30));
    assert_eq!(c.memory_budget, 768 << 20);
    assert_eq!(DEFAULT_MEMORY_BUDGET, 768 << 20);
    assert_eq!(c.admission_wait, Duration::from_millis(2000));
    assert!(c.generated_credentials);
    assert_eq!(c.credentials.len(), 1);
    assert!(c.credentials[0].access_key.starts_with("AKID"));
    assert_eq!(c.credentials[0].secret_key.len(), 40);
    assert!(c.public_read.is_empty() && c.public_list.is_empty());
    assert_eq!(c.max_skew, Duration::from_secs(900));
    assert_eq!(c.max_sign_window, Duration::from_secs(7 * 24 * 3600));
    assert_eq!(c.sign_upstream_as, SignAs::Service);
    assert_eq!(c.slow_clients.idle, Duration::from_secs(60));
    assert_eq!(c.slow_clients.header, Duration::from_secs(10));
    assert_eq!(c.slow_clients.body_idle, Duration::from_secs(30));
    assert_eq!(c.slow_clients.body_min_rate, 4096);
    assert_eq!(c.slow_clients.body_grace, Duration::from_secs(10));
    assert_eq!(c.rate_limit, 100);
    assert_eq!(c.anonymous_rate_limit, 20);
    assert!(c.styles.0.is_empty());
    assert_eq!(c.get_cache_bytes, 64 << 20);
    assert_eq!(c.get_cache_control, "public, max-age=3600");
}

#[test]
fn a_flag_overrides_the_environment_which_overrides_the_file() {
    let file = r#"
listen = "127.0.0.1:1001"
[upstream]
endpoint = "http://file:9000/"
region = "file-region"
access_key = "file-ak"
secret_key = "file-sk"
[auth]
sign_upstream_as = "caller"
[limits]
max_body = 1001
header_timeout_secs = 1
[get_processing]
cache_control = "file"
"#;
    let env = [
        ("PICOPS_LISTEN", "127.0.0.1:2002"),
        ("PICOPS_UPSTREAM_REGION", "env-region"),
        ("PICOPS_SIGN_UPSTREAM_AS", "service"),
        ("PICOPS_MAX_BODY", "2002"),
        ("PICOPS_HEADER_TIMEOUT_SECS", "2"),
        ("PICOPS_GET_CACHE_CONTROL", "env"),
    ];
    let flags = [
        "--listen",
        "127.0.0.1:3003",
        "--upstream-region",
        "flag-region",
        "--sign-upstream-as",
        "caller",
        "--max-body",
        "3003",
        "--header-timeout-secs",
        "3",
        "--get-cache-control",
        "flag",
    ];

    let c = load(&[], &[], Some(file)).unwrap();
    let u = c.upstream.as_ref().unwrap();
    assert_eq!(c.listen.port(), 1001);
    assert_eq!(
        (u.endpoint.as_str(), u.region.as_str()),
        ("http://file:9000", "file-region")
    );
    assert_eq!(
        (u.access_key.as_str(), u.secret_key.as_str()),
        ("file-ak", "file-sk")
    );
    assert_eq!(c.sign_upstream_as, SignAs::Caller);
    assert_eq!(c.max_body, 1001);
    assert_eq!(c.slow_clients.header, Duration::from_secs(1));
    assert_eq!(c.get_cache_control, "file");
    // Settings the file leaves out keep their defaults.
    assert_eq!(c.rate_limit, 100);
    assert_eq!(c.upstream_timeout, Duration::from_secs(30));

    let c = load(&[], &env, Some(file)).unwrap();
    assert_eq!(c.listen.port(), 2002);
    assert_eq!(c.upstream.as_ref().unwrap().region, "env-region");
    assert_eq!(c.sign_upstream_as, SignAs::Service);
    assert_eq!(c.max_body, 2002);
    assert_eq!(c.slow_clients.header, Duration::from_secs(2));
    assert_eq!(c.get_cache_control, "env");

    let c = load(&flags, &env, Some(file)).unwrap();
    assert_eq!(c.listen.port(), 3003);
    assert_eq!(c.upstream.as_ref().unwrap().region, "flag-region");
    assert_eq!(c.sign_upstream_as, SignAs::Caller);
    assert_eq!(c.max_body, 3003);
    assert_eq!(c.slow_clients.header, Duration::from_secs(3));
    assert_eq!(c.get_cache_control, "flag");

    // Without a file, the environment and the flags still apply over the defaults.
    let c = load(&[], &env, None).unwrap();
    assert_eq!((c.listen.port(), c.max_body), (2002, 2002));
    assert!(c.upstream.is_none());
}

#[test]
fn lists_add_the_flags_or_environment_to_the_file() {
    let file = "base_domains = [\"file.example\"]\n[auth]\npublic_read = [\"file-bucket\"]\n";
    let env = [
        ("PICOPS_BASE_DOMAINS", "env-a.example,env-b.example"),
        ("PICOPS_PUBLIC_READ", "env-bucket"),
        ("PICOPS_PUBLIC_LIST", "listed-a,listed-b"),
    ];
    let c = load(&[], &env, Some(file)).unwrap();
    assert_eq!(
        c.base_domains,
        ["env-a.example", "env-b.example", "file.example"]
    );
    assert_eq!(c.public_read, ["env-bucket", "file-bucket"]);
    assert_eq!(c.public_list, ["listed-a", "listed-b"]);
    // Flags replace the variable (as for every setting), and are still added to the file.
    let flags = [
        "--base-domain",
        "flag-a.example",
        "--base-domain",
        "flag-b.example,flag-c.example",
        "--public-read",
        "flag-bucket",
    ];
    let c = load(&flags, &env, Some(file)).unwrap();
    assert_eq!(
        c.base_domains,
        [
            "flag-a.example",
            "flag-b.example",
            "flag-c.example",
            "file.example"
        ]
    );
    assert_eq!(c.public_read, ["flag-bucket", "file-bucket"]);
}

#[test]
fn bad_values_are_refused_saying_where() {
    let err = load(&[], &[], Some("[limits]\nmax_body = \"big\"\n")).unwrap_err();
    assert!(err.contains("picops-config-test-"), "{err}");
    assert!(
        err.contains("invalid type: string \"big\", expected u64"),
        "{err}"
    );
    assert!(err.contains("line 2"), "{err}");
    let err = load(&[], &[], Some("[limits]\nmax_bdy = 1\n")).unwrap_err();
    assert!(err.contains("unknown field `max_bdy`"), "{err}");
    let err = load(&[], &[], Some("lissen = \"127.0.0.1:1\"\n")).unwrap_err();
    assert!(err.contains("unknown field `lissen`"), "{err}");
    let err = load(&[], &[], Some("log_format = \"xml\"\n")).unwrap_err();
    assert!(
        err.contains("unknown variant `xml`, expected `text` or `json`"),
        "{err}"
    );

    let err = load(&[], &[("PICOPS_MAX_BODY", "big")], None).unwrap_err();
    assert!(
        err.contains("invalid value 'big' for '--max-body <MAX_BODY>'"),
        "{err}"
    );
    let err = load(&["--max-body=-1"], &[], None).unwrap_err();
    assert!(err.contains("--max-body"), "{err}");
    let err = load(&["--log-format", "xml"], &[], None).unwrap_err();
    assert!(
        err.contains("invalid value 'xml' for '--log-format <LOG_FORMAT>'"),
        "{err}"
    );

    let err = load(&["--ops-listen", "nowhere"], &[], None).unwrap_err();
    assert_eq!(err, "ops_listen \"nowhere\": invalid socket address syntax");
    let err = load(&["--upstream", "https://s3.example/"], &[], None).unwrap_err();
    assert_eq!(
        err,
        "upstream https://s3.example: only http:// endpoints are supported"
    );
    let err = load(&["--upstream", "http://s3.example"], &[], None).unwrap_err();
    assert_eq!(err, "upstream access key missing (--upstream-access-key)");
    let err = load(
        &[
            "--upstream",
            "http://s3.example",
            "--upstream-access-key",
            "k",
        ],
        &[],
        None,
    )
    .unwrap_err();
    assert_eq!(err, "upstream secret key missing (--upstream-secret-key)");
    let err = load(&["--access-key", "k"], &[], None).unwrap_err();
    assert_eq!(err, "--access-key and --secret-key go together");
    let twice = "[[credentials]]\naccess_key = \"k\"\nsecret_key = \"s\"\n";
    let err = load(
        &["--access-key", "k", "--secret-key", "t"],
        &[],
        Some(twice),
    )
    .unwrap_err();
    assert_eq!(err, "access key k is configured twice");
    let empty = "[[credentials]]\naccess_key = \"\"\nsecret_key = \"s\"\n";
    let err = load(&[], &[], Some(empty)).unwrap_err();
    assert_eq!(err, "a credential has an empty access_key or secret_key");
    let err = load(&[], &[], Some("[styles.b]\nthumb = \"notARule/1\"\n")).unwrap_err();
    assert!(err.starts_with("[styles.b] thumb: "), "{err}");
    let err = load(
        &["--credentials-file", "/nonexistent/picops-creds.toml"],
        &[],
        None,
    )
    .unwrap_err();
    assert!(err.starts_with("/nonexistent/picops-creds.toml: "), "{err}");
}

#[test]
fn lower_bounds_and_off() {
    let c = load(
        &[
            "--memory-budget",
            "1",
            "--workers",
            "0",
            "--upstream-timeout-secs",
            "0",
            "--ops-listen",
            "off",
        ],
        &[],
        None,
    )
    .unwrap();
    assert_eq!(c.memory_budget, 1 << 20);
    assert_eq!(c.workers, 1);
    assert_eq!(c.upstream_timeout, Duration::from_secs(1));
    assert_eq!(c.ops_listen, None);
    let c = load(&[], &[], Some("ops_listen = \"\"\n")).unwrap();
    assert_eq!(c.ops_listen, None);
}

#[test]
fn credentials_from_the_file_the_credentials_file_and_the_flags() {
    let extra = write_file("[[credentials]]\naccess_key = \"second\"\nsecret_key = \"s2\"\n");
    let file = format!(
        "[[credentials]]\naccess_key = \"first\"\nsecret_key = \"s1\"\nbuckets = [\"b\"]\n\
         [auth]\ncredentials_file = {:?}\n",
        extra.display().to_string()
    );
    let c = load(
        &["--access-key", "third", "--secret-key", "s3"],
        &[],
        Some(&file),
    )
    .unwrap();
    let _ = std::fs::remove_file(extra);
    let keys: Vec<_> = c
        .credentials
        .iter()
        .map(|c| c.access_key.as_str())
        .collect();
    assert_eq!(keys, ["first", "second", "third"]);
    assert_eq!(
        c.credentials[0].buckets.as_deref(),
        Some(&["b".to_string()][..])
    );
    assert!(!c.generated_credentials);
}

#[test]
fn styles_and_domains_come_from_the_file() {
    let file = "[domains]\n\"img.example.com\" = \"photos\"\n\
                [styles.photos]\nthumb = \"imageMogr2/thumbnail/400x\"\n";
    let c = load(&[], &[], Some(file)).unwrap();
    assert_eq!(
        c.domains.get("img.example.com").map(String::as_str),
        Some("photos")
    );
    assert_eq!(
        c.styles
            .0
            .get("photos")
            .and_then(|s| s.get("thumb"))
            .map(String::as_str),
        Some("imageMogr2/thumbnail/400x")
    );
}
