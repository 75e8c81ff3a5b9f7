//! The embedded S3 store of `picops serve` without `--upstream`: s3s-fs on a loopback port,
//! data under the data directory. picops reaches it through the same signed S3 client as any
//! real upstream, so the code paths are the same.

use std::path::Path;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use rand::distributions::{Alphanumeric, DistString};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

use crate::auth::Credential;
use crate::config::Upstream;

/// Region the embedded store signs for; any value works as long as both sides agree.
const REGION: &str = "us-east-1";

/// Start the store on its own thread and runtime; returns how to reach it. `callers` are
/// also accepted by the store, for `sign_upstream_as = "caller"`.
pub fn start(
    data_dir: &Path,
    callers: &[Credential],
    timeout: std::time::Duration,
) -> Result<Upstream, String> {
    std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
    let fs = s3s_fs::FileSystem::new(data_dir).map_err(|e| format!("embedded store: {e:?}"))?;
    let access_key = format!(
        "PICOPS{}",
        Alphanumeric
            .sample_string(&mut rand::thread_rng(), 14)
            .to_uppercase()
    );
    let secret_key = Alphanumeric.sample_string(&mut rand::thread_rng(), 40);
    let service = {
        let mut b = S3ServiceBuilder::new(fs);
        let mut auth = SimpleAuth::from_single(access_key.clone(), secret_key.clone());
        for c in callers {
            auth.register(c.access_key.clone(), c.secret_key.clone().into());
        }
        b.set_auth(auth);
        b.build()
    };
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("embedded store: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("embedded store: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::Builder::new()
        .name("embedded-s3".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("embedded-s3")
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "embedded store runtime failed to start");
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "embedded store listener failed");
                        return;
                    }
                };
                let http = ConnBuilder::new(TokioExecutor::new());
                loop {
                    let (socket, _) = match listener.accept().await {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(error = %e, "embedded store accept failed");
                            continue;
                        }
                    };
                    let conn = http
                        .serve_connection(TokioIo::new(socket), service.clone())
                        .into_owned();
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                }
            });
        })
        .map_err(|e| format!("embedded store thread: {e}"))?;
    tracing::info!(%addr, data_dir = %data_dir.display(), "embedded S3 store started");
    Ok(Upstream {
        endpoint: format!("http://{addr}"),
        region: REGION.into(),
        access_key,
        secret_key,
        timeout,
        sign_payload: false,
    })
}
