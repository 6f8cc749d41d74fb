//! Checks what dual writes need from the plan: `[write_queue]`, a domain's `sync` mode, and a
//! route's `id_pointer` and `key`.

use super::check::Checker;
use super::locate::Seg;
use super::raw::RawWriteQueue;
use super::{QueueBackend, SyncMode, WriteQueueConfig};
use crate::defaults;

pub(super) fn queue(c: &mut Checker<'_>, raw: Option<RawWriteQueue>) -> WriteQueueConfig {
    use Seg::Key;
    let Some(raw) = raw else { return WriteQueueConfig::default() };
    let at = |k: &'static str| [Key("write_queue"), Key(k)];
    let d = WriteQueueConfig::default();
    let backend = match raw.backend.as_deref().unwrap_or("embedded") {
        "embedded" => {
            if raw.nats_url.is_some() {
                c.issue(&at("nats_url"), "is only used with backend = \"nats\"");
            }
            QueueBackend::Embedded
        }
        "nats" => {
            let url = raw.nats_url.clone().unwrap_or_default();
            let valid = url.starts_with("nats://") || url.starts_with("tls://");
            if !valid {
                c.issue(
                    &at("nats_url"),
                    format!("{url:?} is not a NATS URL; expected e.g. \"nats://127.0.0.1:4222\""),
                );
            }
            let stream = raw.stream.clone().unwrap_or_else(|| defaults::NATS_STREAM.to_owned());
            let stream_ok = !stream.is_empty()
                && stream.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !stream_ok {
                c.issue(&at("stream"), format!("{stream:?} is not a valid stream name; expected letters, digits, '_' and '-'"));
            }
            QueueBackend::Nats { url, stream }
        }
        other => {
            c.issue(
                &at("backend"),
                format!("{other:?} is not a write queue; expected \"embedded\" or \"nats\""),
            );
            QueueBackend::Embedded
        }
    };
    let max_attempts = raw.max_attempts.unwrap_or(d.max_attempts);
    if max_attempts == 0 {
        c.issue(&at("max_attempts"), "must be at least 1");
    }
    let backoff_initial = raw.backoff_initial.unwrap_or(d.backoff_initial);
    let backoff_max = raw.backoff_max.unwrap_or(d.backoff_max);
    if backoff_initial.is_zero() {
        c.issue(&at("backoff_initial"), "must be longer than zero, e.g. \"100ms\"");
    }
    if backoff_max < backoff_initial {
        c.issue(&at("backoff_max"), "must be at least backoff_initial");
    }
    let concurrency = raw.concurrency.unwrap_or(d.concurrency);
    if concurrency == 0 {
        c.issue(&at("concurrency"), "must be at least 1");
    }
    WriteQueueConfig { backend, max_attempts, backoff_initial, backoff_max, concurrency }
}

pub(super) fn sync(c: &mut Checker<'_>, domain: &str, raw: Option<&str>) -> SyncMode {
    use Seg::Key;
    match raw.unwrap_or("replay") {
        "replay" => SyncMode::Replay,
        "capture" => SyncMode::Capture,
        "off" => SyncMode::Off,
        other => {
            c.issue(
                &[Key("domains"), Key(domain), Key("sync")],
                format!(
                    "{other:?} is not a sync mode; expected \"replay\", \"capture\" or \"off\""
                ),
            );
            SyncMode::Replay
        }
    }
}

/// The route's `id_pointer` (a JSON Pointer, RFC 6901) and `key` (one of its path parameters).
pub(super) fn route_keys(
    c: &mut Checker<'_>,
    at: &[Seg<'_>],
    path: &str,
    id_pointer: Option<String>,
    key: Option<String>,
) -> (Option<String>, Option<String>) {
    let with = |k: &'static str| {
        let mut p = at.to_vec();
        p.push(Seg::Key(k));
        p
    };
    if let Some(p) = &id_pointer
        && !p.starts_with('/')
    {
        c.issue(
            &with("id_pointer"),
            format!("{p:?} is not a JSON Pointer; expected e.g. \"/id\" (RFC 6901)"),
        );
    }
    if let Some(k) = &key
        && !path.contains(&format!("{{{k}}}"))
    {
        c.issue(&with("key"), format!("{k:?} is not a parameter of {path:?}"));
    }
    (id_pointer, key)
}
