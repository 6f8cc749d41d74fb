//! Reads a request's sticky key (header, cookie, query parameter or path parameter) and turns it
//! into a bucket. A request without the key gets a random bucket: it is not a tracked subject.

use ficus_model::{Bucket, StickyKey};
use http::HeaderMap;

/// The bucket of this request's subject.
pub fn bucket(
    key: Option<&StickyKey>,
    headers: &HeaderMap,
    query: Option<&str>,
    params: &[(&str, &str)],
) -> Bucket {
    let value = key.and_then(|k| match k {
        StickyKey::Header(name) => headers.get(name.as_str()).map(|v| v.as_bytes()),
        StickyKey::Cookie(name) => cookie(headers, name),
        StickyKey::Query(name) => query.and_then(|q| query_param(q, name)).map(str::as_bytes),
        StickyKey::PathParam(name) => {
            params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_bytes())
        }
    });
    match value {
        Some(v) => Bucket::of_key(v),
        None => Bucket::from_random(rand::random()),
    }
}

fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h [u8]> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v.trim_matches('"').as_bytes())
        })
}

/// The raw value of a query parameter (not percent-decoded: the bucket only needs stability).
fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn each_source_is_read() {
        let mut h = HeaderMap::new();
        h.insert("x-customer-id", HeaderValue::from_static("42"));
        h.insert("cookie", HeaderValue::from_static("a=1; sid=42; b=2"));
        let expect = Bucket::of_key(b"42");
        assert_eq!(bucket(Some(&StickyKey::Header("x-customer-id".into())), &h, None, &[]), expect);
        assert_eq!(bucket(Some(&StickyKey::Cookie("sid".into())), &h, None, &[]), expect);
        assert_eq!(bucket(Some(&StickyKey::Query("c".into())), &h, Some("x=1&c=42"), &[]), expect);
        assert_eq!(
            bucket(Some(&StickyKey::PathParam("id".into())), &h, None, &[("id", "42")]),
            expect
        );
    }
}
