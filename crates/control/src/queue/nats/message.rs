//! A write as a JetStream message: the request body is the payload, everything else is in
//! `Ficus-*` headers, and `Nats-Msg-Id` is the write id (the stream drops a second publish of
//! it within the duplicate window). Free text (entity, target, authoritative id, reason) is
//! JSON-encoded, so a CR or LF in it cannot end a header; the request headers are one JSON
//! array of `[name, value]` pairs.

use async_nats::HeaderMap;
use async_nats::header::NATS_MESSAGE_ID;
use ficus_gateway::replay::WriteEntry;
use ficus_model::Side;

const DOMAIN: &str = "Ficus-Domain";
const ROUTE: &str = "Ficus-Route";
const KEY: &str = "Ficus-Key";
const METHOD: &str = "Ficus-Method";
const TARGET: &str = "Ficus-Target";
const TO: &str = "Ficus-To";
const AUTHORITATIVE_ID: &str = "Ficus-Authoritative-Id";
/// Milliseconds since the Unix epoch when the authoritative side accepted the write.
pub(super) const ACCEPTED_AT_MS: &str = "Ficus-Accepted-At-Ms";
const HEADERS: &str = "Ficus-Headers";
const UNREPLAYABLE: &str = "Ficus-Unreplayable";
/// The write id (also `Nats-Msg-Id`, except on a retried dead letter, whose message id differs
/// so that the duplicate window does not drop it).
const WRITE_ID: &str = "Ficus-Write-Id";

fn json(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// The headers of `entry`, with `msg_id` as `Nats-Msg-Id`.
pub(super) fn encode(entry: &WriteEntry, msg_id: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(NATS_MESSAGE_ID, json_free(msg_id));
    h.insert(WRITE_ID, json_free(&entry.id));
    h.insert(DOMAIN, json_free(&entry.domain));
    h.insert(ROUTE, json(&entry.route));
    h.insert(KEY, json(&entry.key));
    h.insert(METHOD, json_free(&entry.method));
    h.insert(TARGET, json(&entry.target));
    h.insert(TO, entry.to.as_str());
    if let Some(id) = &entry.authoritative_id {
        h.insert(AUTHORITATIVE_ID, json(id));
    }
    h.insert(ACCEPTED_AT_MS, entry.accepted_at_ms.to_string());
    let headers = serde_json::to_string(&entry.headers).unwrap_or_else(|_| "[]".to_owned());
    h.insert(HEADERS, headers);
    if let Some(reason) = &entry.unreplayable {
        h.insert(UNREPLAYABLE, json(reason));
    }
    h
}

/// Ids, domain and method are tokens Ficus made or checked; anything else is escaped.
fn json_free(s: &str) -> String {
    if s.bytes().all(|b| b.is_ascii_graphic()) { s.to_owned() } else { json(s) }
}

fn unjson_free(s: &str) -> Result<String, String> {
    if s.starts_with('"') { unjson(s) } else { Ok(s.to_owned()) }
}

fn unjson(s: &str) -> Result<String, String> {
    serde_json::from_str(s).map_err(|e| e.to_string())
}

/// The write a message carries, or why it cannot be read.
pub(super) fn decode(
    headers: Option<&HeaderMap>,
    payload: &bytes::Bytes,
) -> Result<WriteEntry, String> {
    let h = headers.ok_or("the message has no headers")?;
    let get = |name: &str| -> Result<&str, String> {
        h.get(name)
            .map(async_nats::HeaderValue::as_str)
            .ok_or_else(|| format!("header {name} is missing"))
    };
    let text = |name: &str| -> Result<String, String> {
        unjson(get(name)?).map_err(|e| format!("header {name}: {e}"))
    };
    let optional = |name: &str| -> Result<Option<String>, String> {
        if h.get(name).is_some() { text(name).map(Some) } else { Ok(None) }
    };
    let token = |name: &str| -> Result<String, String> {
        unjson_free(get(name)?).map_err(|e| format!("header {name}: {e}"))
    };
    let to = match get(TO)? {
        "new" => Side::New,
        "legacy" => Side::Legacy,
        other => return Err(format!("header {TO}: {other:?} is not a side")),
    };
    let accepted_at_ms =
        get(ACCEPTED_AT_MS)?.parse().map_err(|e| format!("header {ACCEPTED_AT_MS}: {e}"))?;
    let headers =
        serde_json::from_str(get(HEADERS)?).map_err(|e| format!("header {HEADERS}: {e}"))?;
    Ok(WriteEntry {
        id: token(WRITE_ID)?,
        domain: token(DOMAIN)?,
        route: text(ROUTE)?,
        key: text(KEY)?,
        method: token(METHOD)?,
        target: text(TARGET)?,
        headers,
        body: payload.clone(),
        to,
        authoritative_id: optional(AUTHORITATIVE_ID)?,
        accepted_at_ms,
        unreplayable: optional(UNREPLAYABLE)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> WriteEntry {
        WriteEntry {
            id: "w-0123".into(),
            domain: "invoices".into(),
            route: "/invoices/{id}".into(),
            key: " 7\r\nPUB x 0\r\n".into(),
            method: "PUT".into(),
            target: "/invoices/7?a=b%20c".into(),
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-a".into(), "é\n".into()),
            ],
            body: bytes::Bytes::from_static(b"{\"total\": 1}"),
            to: Side::New,
            authoritative_id: Some("7".into()),
            accepted_at_ms: 1_790_000_000_123,
            unreplayable: None,
        }
    }

    #[test]
    fn a_write_survives_the_round_trip_and_cannot_break_a_header() {
        let e = entry();
        let h = encode(&e, "w-0123-r4");
        for (_, values) in h.iter() {
            for v in values {
                assert!(!v.as_str().contains(['\r', '\n']), "{v:?}");
            }
        }
        assert_eq!(h.get(NATS_MESSAGE_ID).map(async_nats::HeaderValue::as_str), Some("w-0123-r4"));
        assert_eq!(decode(Some(&h), &e.body), Ok(e));
    }

    #[test]
    fn a_malformed_message_is_an_error_not_a_panic() {
        let body = bytes::Bytes::new();
        assert!(decode(None, &body).is_err());
        let mut h = encode(&entry(), "m");
        h.insert(TO, "sideways");
        assert_eq!(
            decode(Some(&h), &body),
            Err("header Ficus-To: \"sideways\" is not a side".into())
        );
        let mut h = encode(&entry(), "m");
        h.insert(KEY, "\"unterminated");
        assert!(decode(Some(&h), &body).is_err_and(|e| e.starts_with("header Ficus-Key")));
        let mut h = encode(&entry(), "m");
        h.insert(HEADERS, "{");
        assert!(decode(Some(&h), &body).is_err());
    }
}
