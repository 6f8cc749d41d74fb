//! The two Chinook services of the demo, in this process on free loopback ports: legacy on a
//! fresh copy of the shipped SQLite file, new on its own redesigned schema imported from it,
//! each with the quirks of `ficus_example_chinook::quirks`.

use anyhow::Context;
use ficus_example_chinook::{Quirks, legacy, new, write_chinook_sqlite};
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Services {
    pub legacy: SocketAddr,
    pub new: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

pub async fn start(dir: &Path) -> anyhow::Result<Services> {
    let legacy_dir = dir.join("legacy");
    std::fs::create_dir_all(&legacy_dir).context("make the legacy data dir")?;
    let chinook = write_chinook_sqlite(&legacy_dir)?;
    let legacy_db = legacy::open_sqlite(&chinook).await?;
    let new_pool = new::open(&dir.join("new.sqlite"), &chinook).await?;
    let (stop, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let mut addrs = Vec::new();
    // Both answer with a generated timestamp (noise); new renders track prices as text (an
    // honest difference). The shadow reads of the `tracks` domain find both.
    let legacy_quirks = Quirks { served_at: true, price_as_text: false };
    let new_quirks = Quirks { served_at: true, price_as_text: true };
    for router in
        [legacy_quirks.apply(legacy::router(legacy_db)), new_quirks.apply(new::router(new_pool))]
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("bind a service port")?;
        addrs.push(listener.local_addr()?);
        let mut rx = rx.clone();
        tasks.push(tokio::spawn(
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .into_future(),
        ));
    }
    Ok(Services { legacy: addrs[0], new: addrs[1], stop, tasks })
}

impl Services {
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}
