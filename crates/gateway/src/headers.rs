//! Header rules of a forwarding proxy: hop-by-hop headers removed (RFC 9110 §7.6.1), the
//! client's address, scheme and host passed on (`X-Forwarded-*`, RFC 7239 `Forwarded`), and the
//! W3C trace context (`traceparent`) and `x-request-id` passed on or created.

use crate::ids;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Headers that describe one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Remove hop-by-hop headers, including every header named in `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names is cheaper than nine hashed removals.
    if !headers.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Facts about a client connection, formatted once per connection rather than per request.
#[derive(Debug, Clone)]
pub struct ClientAddr {
    pub addr: SocketAddr,
    ip: String,
    /// This hop's `Forwarded` element without the host (RFC 7239 §4).
    forwarded_for: String,
}

impl ClientAddr {
    pub fn new(addr: SocketAddr) -> ClientAddr {
        let ip = addr.ip();
        // RFC 7239 §6: IPv6 addresses are quoted and bracketed.
        let node = if ip.is_ipv6() { format!("\"[{ip}]\"") } else { ip.to_string() };
        ClientAddr { addr, ip: ip.to_string(), forwarded_for: format!("for={node};proto=http") }
    }
}

/// Append the client to `X-Forwarded-For` and `Forwarded`, and set `X-Forwarded-Proto` and
/// `X-Forwarded-Host` (the latter from the original `Host`, or the HTTP/2 `:authority`).
pub fn set_forwarded(headers: &mut HeaderMap, client: &ClientAddr, host: Option<&str>) {
    // Several field lines form one list (RFC 9110 §5.3): keep them all, then append the client.
    let mut prior = headers.get_all(&X_FORWARDED_FOR).iter();
    let xff = match (prior.next(), prior.next()) {
        (None, _) => HeaderValue::from_str(&client.ip).ok(),
        (Some(one), None) => {
            let mut v = Vec::with_capacity(one.len() + 2 + client.ip.len());
            v.extend_from_slice(one.as_bytes());
            v.extend_from_slice(b", ");
            v.extend_from_slice(client.ip.as_bytes());
            HeaderValue::from_bytes(&v).ok()
        }
        (Some(_), Some(_)) => {
            let mut all: Vec<&[u8]> =
                headers.get_all(&X_FORWARDED_FOR).iter().map(HeaderValue::as_bytes).collect();
            all.push(client.ip.as_bytes());
            HeaderValue::from_bytes(&all.join(&b", "[..])).ok()
        }
    };
    if let Some(v) = xff {
        headers.insert(X_FORWARDED_FOR, v);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    // Only the host this gateway saw is passed on, never one the client claimed.
    headers.remove(&X_FORWARDED_HOST);
    let host = host.filter(|h| h.bytes().all(|b| b.is_ascii_graphic() && b != b'"'));
    let element = match host {
        Some(host) => {
            if let Ok(v) = HeaderValue::from_str(host) {
                headers.insert(X_FORWARDED_HOST, v);
            }
            let mut e = String::with_capacity(client.forwarded_for.len() + host.len() + 8);
            e.push_str(&client.forwarded_for);
            e.push_str(";host=\"");
            e.push_str(host);
            e.push('"');
            HeaderValue::from_str(&e).ok()
        }
        None => HeaderValue::from_str(&client.forwarded_for).ok(),
    };
    if let Some(v) = element {
        headers.append(FORWARDED, v);
    }
}

/// `Date` for now (RFC 9110 §6.6.1, IMF-fixdate via `httpdate`), formatted at most once a
/// second per thread.
pub fn date_now() -> HeaderValue {
    thread_local! {
        static CACHE: std::cell::RefCell<(u64, HeaderValue)> =
            const { std::cell::RefCell::new((u64::MAX, HeaderValue::from_static(""))) };
    }
    let now = std::time::SystemTime::now();
    let secs = now.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with_borrow_mut(|(at, value)| {
        if *at != secs {
            *at = secs;
            *value = HeaderValue::from_str(&httpdate::fmt_http_date(now))
                .unwrap_or(HeaderValue::from_static(""));
        }
        value.clone()
    })
}

/// Add `Date` to a response that has none: a recipient with a clock forwarding such a
/// response must (RFC 9110 §6.6.1).
pub fn ensure_date(headers: &mut HeaderMap) {
    if !headers.contains_key(header::DATE) {
        headers.insert(header::DATE, date_now());
    }
}

/// The request id: the client's `x-request-id` if it is a sane token, else a new random one
/// (32 hex digits). Set on the forwarded request; returned for logs and the response.
pub fn ensure_request_id(headers: &mut HeaderMap) -> HeaderValue {
    if let Some(id) = headers.get(&X_REQUEST_ID)
        && !id.is_empty()
        && id.len() <= 128
        && id.as_bytes().iter().all(u8::is_ascii_graphic)
    {
        return id.clone();
    }
    let id = HeaderValue::from_bytes(&ids::hex128()).unwrap_or(HeaderValue::from_static("0"));
    headers.insert(X_REQUEST_ID, id.clone());
    id
}

/// Keep a valid W3C `traceparent` (version 00) as it is, or start a new sampled trace.
pub fn ensure_traceparent(headers: &mut HeaderMap) {
    if let Some(tp) = headers.get(&TRACEPARENT).and_then(|v| v.to_str().ok())
        && valid_traceparent(tp).is_some()
    {
        return;
    }
    // 00-<32 hex trace id>-<16 hex parent id>-01 (sampled)
    let mut tp = [0u8; 55];
    tp[..3].copy_from_slice(b"00-");
    tp[3..35].copy_from_slice(&ids::hex128());
    tp[35] = b'-';
    let mut span = [0u8; 16];
    ids::hex_u64(ids::next_u64() | 1, &mut span);
    tp[36..52].copy_from_slice(&span);
    tp[52..].copy_from_slice(b"-01");
    if let Ok(v) = HeaderValue::from_bytes(&tp) {
        headers.insert(TRACEPARENT, v);
    }
    headers.remove("tracestate");
}

/// The trace id of a valid version-00 `traceparent` (W3C Trace Context §3.2).
fn valid_traceparent(tp: &str) -> Option<&str> {
    let parts: Vec<&str> = tp.split('-').collect();
    let [version, trace, parent, flags] = parts.as_slice() else {
        return None;
    };
    let lower_hex = |s: &str, n| {
        s.len() == n && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let ok = *version == "00"
        && lower_hex(trace, 32)
        && lower_hex(parent, 16)
        && lower_hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    ok.then_some(*trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-secret"));
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn forwarded_headers_append() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        set_forwarded(
            &mut h,
            &ClientAddr::new("[::1]:5000".parse().unwrap()),
            Some("shop.example"),
        );
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, ::1");
        assert_eq!(h["forwarded"], "for=\"[::1]\";proto=http;host=\"shop.example\"");
        assert_eq!(h["x-forwarded-host"], "shop.example");
    }

    #[test]
    fn traceparent_kept_when_valid_created_otherwise() {
        let mut h = HeaderMap::new();
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        h.insert(TRACEPARENT, HeaderValue::from_static(tp));
        ensure_traceparent(&mut h);
        assert_eq!(h[TRACEPARENT], tp);
        let mut h = HeaderMap::new();
        h.insert(TRACEPARENT, HeaderValue::from_static("00-zz-00-01"));
        ensure_traceparent(&mut h);
        assert!(valid_traceparent(h[TRACEPARENT].to_str().unwrap()).is_some());
    }

    #[test]
    fn request_id_kept_or_made() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("abc-1"));
        assert_eq!(ensure_request_id(&mut h), "abc-1");
        let mut h = HeaderMap::new();
        let id = ensure_request_id(&mut h);
        assert_eq!(id.len(), 32);
        assert_eq!(h[X_REQUEST_ID], id);
    }
}
