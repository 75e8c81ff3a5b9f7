//! `picops serve`: assembles the configuration, the upstream, the proxy, the ops listener and
//! the shutdown watcher, and runs the pingora server.

use crate::{allocator, auth, config, embedded, engine, gateway, metrics, ops, timeouts, upstream};
use std::sync::Arc;

use pingora::server::configuration::ServerConf;
use pingora::server::Server;

fn init_logs(format: config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PICOPS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        config::LogFormat::Text => builder.init(),
        // The current span carries the request id (`span.request_id`).
        config::LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// pingora closes the listeners on SIGTERM and then waits out the whole grace period; this
/// ends the process as soon as no request is in flight any more, so an idle picops stops at
/// once and a busy one finishes its uploads first.
fn exit_when_drained() -> Result<(), String> {
    std::thread::Builder::new()
        .name("drain-watch".into())
        .spawn(|| {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "drain watcher not started");
                    return;
                }
            };
            runtime.block_on(async {
                use tokio::signal::unix::{signal, SignalKind};
                let Ok(mut term) = signal(SignalKind::terminate()) else {
                    tracing::warn!("drain watcher: cannot listen for SIGTERM");
                    return;
                };
                term.recv().await;
                loop {
                    let busy = metrics::METRICS.in_flight.get();
                    if busy <= 0 {
                        tracing::info!("SIGTERM: no request in flight, exiting");
                        std::process::exit(0);
                    }
                    tracing::info!(in_flight = busy, "SIGTERM: waiting for requests in flight");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            });
        })
        .map(|_| ())
        .map_err(|e| format!("drain watcher: {e}"))
}

pub fn serve(args: &config::ServeArgs) -> Result<(), String> {
    let config = config::Config::load(args)?;
    init_logs(config.log_format);
    allocator::tune();
    let callers_for_store: &[auth::Credential] =
        if config.sign_upstream_as == config::SignAs::Caller {
            &config.credentials
        } else {
            &[]
        };
    // The embedded store lives as long as this function, which serves until the process ends.
    let (upstream, callers, _store) = match &config.upstream {
        Some(u) => {
            let callers = callers_for_store
                .iter()
                .map(|c| {
                    (
                        c.access_key.clone(),
                        config::Upstream {
                            access_key: c.access_key.clone(),
                            secret_key: c.secret_key.clone(),
                            ..u.clone()
                        },
                    )
                })
                .collect();
            (u.clone(), callers, None)
        }
        None => {
            let store = embedded::start(
                &config.data_dir,
                &config.store_bin,
                callers_for_store,
                config.upstream_timeout,
            )?;
            (store.service.clone(), store.callers.clone(), Some(store))
        }
    };
    let callers: Vec<(String, config::Upstream)> = callers;
    let keyring = auth::Keyring::new(
        config.credentials.clone(),
        auth::Policy {
            public_read: config.public_read.clone(),
            public_list: config.public_list.clone(),
            max_skew: config.max_skew,
            max_sign_window: config.max_sign_window,
        },
    );
    let mut config = config;
    if config.upstream.is_none() {
        // Garage performs SSE-C itself (it refuses reads without the key).
        config.store_features.sse_c = true;
    }
    let engine = Arc::new(engine::Engine::new(
        config.clone(),
        keyring,
        upstream::Upstreams::new(&upstream, &callers),
    ));
    let readiness_client = engine.upstreams.service().shared_client();
    let proxy = gateway::Picops { engine };

    let conf = ServerConf {
        threads: config.workers,
        grace_period_seconds: Some(config.shutdown_grace.as_secs()),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut http = pingora::proxy::HttpProxy::new(proxy, server.configuration.clone());
    http.handle_init_modules();
    let mut service = pingora::services::listening::Service::new(
        "picops".into(),
        timeouts::HeaderDeadline {
            inner: Arc::new(http),
            limits: config.slow_clients,
        },
    );
    service.add_tcp(&config.listen.to_string());
    server.add_service(service);
    if let Some(ops_listen) = config.ops_listen {
        let mut ops = pingora::services::listening::Service::new(
            "picops ops".into(),
            pingora::apps::http_app::HttpServer::new_app(ops::Ops {
                upstream: readiness_client,
            }),
        );
        ops.add_tcp(&ops_listen.to_string());
        server.add_service(ops);
    }
    exit_when_drained()?;
    tracing::info!(listen = %config.listen, ops_listen = ?config.ops_listen, upstream = %upstream.endpoint, embedded = config.upstream.is_none(), "picops serving");
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
