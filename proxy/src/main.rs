//! `picops`: COS persistent image processing in front of any S3 store.

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
    let upstream = match &config.upstream {
        Some(u) => u.clone(),
        None => embedded::start(&config.data_dir)?,
    };
    let upstream_authority = upstream
        .endpoint
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let state = Arc::new(upload::State::new(
        config.clone(),
        upstream::UpstreamClient::new(&upstream),
    ));
    let proxy = proxy::Picops {
        state,
        routing: route::Routing {
            base_domains: config.base_domains.clone(),
            domains: config.domains.clone(),
        },
        upstream_authority,
        signer: sign::Signer::new(&upstream),
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
    server.run_forever();
}
