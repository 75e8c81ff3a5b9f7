//! `picops`: COS persistent image processing in front of any S3 store.

mod auth;
mod cli;
mod config;
mod embedded;
mod error;
mod offline;
mod pic_ops;
mod proxy;
mod route;
mod sign;
mod upload;
mod upstream;
mod xml;

use std::sync::Arc;

use clap::Parser;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;

fn main() {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Process(a) => offline::process(a),
        cli::Command::Info(a) => offline::info(a),
        cli::Command::Serve(a) => serve(a),
    };
    if let Err(e) = result {
        eprintln!("picops: {e}");
        std::process::exit(1);
    }
}

fn serve(args: &config::ServeArgs) -> Result<(), String> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PICOPS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = config::Config::load(args)?;
    let callers_for_store: &[auth::Credential] =
        if config.sign_upstream_as == config::SignAs::Caller {
            &config.credentials
        } else {
            &[]
        };
    let upstream = match &config.upstream {
        Some(u) => u.clone(),
        None => embedded::start(&config.data_dir, callers_for_store)?,
    };
    let callers: Vec<(String, config::Upstream)> = callers_for_store
        .iter()
        .map(|c| {
            (
                c.access_key.clone(),
                config::Upstream {
                    access_key: c.access_key.clone(),
                    secret_key: c.secret_key.clone(),
                    ..upstream.clone()
                },
            )
        })
        .collect();
    let keyring = auth::Keyring::new(
        config.credentials.clone(),
        config.public_read.clone(),
        config.max_skew,
    );
    let state = Arc::new(upload::State::new(
        config.clone(),
        keyring,
        upstream::Upstreams::new(&upstream, &callers),
    ));
    let proxy = proxy::Picops {
        state,
        routing: route::Routing {
            base_domains: config.base_domains.clone(),
            domains: config.domains.clone(),
        },
    };

    let conf = ServerConf {
        threads: config.workers,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(30),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut service = pingora::proxy::http_proxy_service(&server.configuration, proxy);
    service.add_tcp(&config.listen.to_string());
    server.add_service(service);
    tracing::info!(listen = %config.listen, upstream = %upstream.endpoint, embedded = config.upstream.is_none(), "picops serving");
    println!(
        "picops listening on http://{} (upstream {})",
        config.listen, upstream.endpoint
    );
    if config.generated_credentials {
        // Nothing was configured: the only way in is this key, so say it once, at start.
        if let Some(c) = config.credentials.first() {
            println!(
                "no credentials configured; generated for this run:\n  access key: {}\n  secret key: {}",
                c.access_key, c.secret_key
            );
        }
    }
    server.run_forever();
}
