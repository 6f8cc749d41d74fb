//! Turns the raw plan into the checked [`Plan`]: every value is given meaning here, every
//! problem is collected with its key path and line.

use super::error::{PlanIssue, line_of_offset};
use super::locate::{Seg, line_of, render};
use super::raw::{RawDomain, RawPlan, RawSticky, RawUpstream};
use super::{Admin, Domain, Listener, Plan, Route, StickyKey, TokenSource, Unmatched, Upstream};
use crate::defaults;
use crate::phase::Phase;
use crate::routing::{Percent, RouteConflict, RouteTable};
use crate::side::Side;
use std::net::SocketAddr;
use std::path::Path;

const METHODS: [&str; 7] = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"];

pub(super) struct Checker<'s> {
    src: &'s str,
    issues: Vec<PlanIssue>,
}

impl Checker<'_> {
    pub(super) fn issue(&mut self, path: &[Seg<'_>], message: impl Into<String>) {
        self.issues.push(PlanIssue {
            path: render(path),
            line: line_of(self.src, path),
            message: message.into(),
        });
    }

    fn socket_addr(&mut self, path: &[Seg<'_>], value: Option<&str>, default: &str) -> SocketAddr {
        let text = value.unwrap_or(default);
        text.parse().unwrap_or_else(|_| {
            self.issue(
                path,
                format!("{text:?} is not a socket address; expected ip:port such as {default:?}"),
            );
            SocketAddr::from(([127, 0, 0, 1], 0))
        })
    }

    pub(super) fn percent(&mut self, path: &[Seg<'_>], value: Option<f64>) -> Percent {
        let v = value.unwrap_or(0.0);
        Percent::from_percent(v).unwrap_or_else(|| {
            self.issue(path, format!("{v} is out of range; expected a percentage from 0 to 100"));
            Percent::ZERO
        })
    }
}

/// Parse and check plan text; every problem found, or the plan.
pub(super) fn parse(src: &str, base_dir: &Path) -> Result<Plan, Vec<PlanIssue>> {
    let raw = parse_raw(src).map_err(|i| vec![i])?;
    let mut c = Checker { src, issues: Vec::new() };
    let plan = check(&mut c, raw, base_dir);
    if c.issues.is_empty() { Ok(plan) } else { Err(c.issues) }
}

fn parse_raw(src: &str) -> Result<RawPlan, PlanIssue> {
    let de = toml::de::Deserializer::parse(src).map_err(|e| toml_issue(src, String::new(), &e))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        toml_issue(src, path, e.inner())
    })
}

fn toml_issue(src: &str, path: String, e: &toml::de::Error) -> PlanIssue {
    PlanIssue {
        path,
        line: e.span().map(|s| line_of_offset(src, s.start)),
        message: e.message().trim().to_owned(),
    }
}

fn check(c: &mut Checker<'_>, raw: RawPlan, base_dir: &Path) -> Plan {
    use Seg::Key;
    let listener = Listener {
        address: c.socket_addr(
            &[Key("listener"), Key("address")],
            raw.listener.address.as_deref(),
            defaults::LISTENER_ADDRESS,
        ),
        max_body_bytes: raw.listener.max_body_bytes.unwrap_or(defaults::MAX_BODY_BYTES),
        workers: raw.listener.workers,
        pin_workers: raw.listener.pin_workers.unwrap_or(true),
    };
    if matches!(listener.workers, Some(0) | Some(1025..)) {
        c.issue(
            &[Key("listener"), Key("workers")],
            "must be from 1 to 1024; leave it out for one per core",
        );
    }
    if listener.max_body_bytes == 0 {
        c.issue(&[Key("listener"), Key("max_body_bytes")], "must be at least 1 byte");
    }
    let admin_address = c.socket_addr(
        &[Key("admin"), Key("address")],
        raw.admin.address.as_deref(),
        defaults::ADMIN_ADDRESS,
    );
    let token = match (raw.admin.token_env, raw.admin.token_file) {
        (Some(_), Some(_)) => {
            c.issue(
                &[Key("admin"), Key("token_file")],
                "set either token_env or token_file, not both",
            );
            TokenSource::Env(defaults::ADMIN_TOKEN_ENV.to_owned())
        }
        (None, Some(file)) => TokenSource::File(base_dir.join(file)),
        (Some(env), None) if env.trim().is_empty() => {
            c.issue(&[Key("admin"), Key("token_env")], "must name an environment variable");
            TokenSource::Env(defaults::ADMIN_TOKEN_ENV.to_owned())
        }
        (env, None) => {
            TokenSource::Env(env.unwrap_or_else(|| defaults::ADMIN_TOKEN_ENV.to_owned()))
        }
    };
    let state_path = base_dir.join(raw.state.path.as_deref().unwrap_or(defaults::STATE_PATH));
    let upstreams = [
        upstream(c, Side::Legacy, &raw.upstreams.legacy),
        upstream(c, Side::New, &raw.upstreams.new),
    ];
    let unmatched = match raw.unmatched.upstream.as_deref() {
        None | Some("legacy") => Unmatched::Forward(Side::Legacy),
        Some("new") => Unmatched::Forward(Side::New),
        Some("reject") => Unmatched::Reject,
        Some(other) => {
            c.issue(
                &[Key("unmatched"), Key("upstream")],
                format!("{other:?} is not valid; expected \"legacy\", \"new\" or \"reject\""),
            );
            Unmatched::Reject
        }
    };
    let domains: Vec<Domain> = raw.domains.into_iter().map(|(n, d)| domain(c, n, d)).collect();
    let routes = match RouteTable::build(&domains) {
        Ok(t) => t,
        Err(e) => {
            let at = conflict_location(&domains, &e);
            match at {
                Some((name, i)) => c.issue(
                    &[Key("domains"), Key(&name), Key("routes"), Seg::Index(i)],
                    e.to_string(),
                ),
                None => c.issue(&[Key("domains")], e.to_string()),
            }
            // Still give the caller a plan-shaped value; issues make `parse` fail.
            RouteTable::empty()
        }
    };
    let write_queue = super::writes::queue(c, raw.write_queue);
    Plan {
        listener,
        admin: Admin { address: admin_address, token },
        state_path,
        upstreams,
        unmatched,
        domains,
        routes,
        write_queue,
    }
}

fn conflict_location(domains: &[Domain], e: &RouteConflict) -> Option<(String, usize)> {
    let (domain, template) = match e {
        RouteConflict::Invalid { template, .. } => {
            let d = domains.iter().find(|d| d.routes.iter().any(|r| &r.path == template))?;
            (d.name.clone(), template)
        }
        RouteConflict::Overlap { domain, template, .. } => (domain.clone(), template),
    };
    let d = domains.iter().find(|d| d.name == domain)?;
    let i = d.routes.iter().rposition(|r| &r.path == template)?;
    Some((domain, i))
}

fn upstream(c: &mut Checker<'_>, side: Side, raw: &RawUpstream) -> Upstream {
    use Seg::Key;
    let at = |k| [Key("upstreams"), Key(side.as_str()), Key(k)];
    let (authority, path_prefix) = match raw.url.strip_prefix("http://") {
        Some(rest) => {
            let (auth, prefix) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            if auth.is_empty() || auth.contains(['@', '?', '#', ' ']) {
                c.issue(&at("url"), format!("{:?} has no valid host:port; expected a URL such as \"http://127.0.0.1:8001\"", raw.url));
            }
            (auth.to_owned(), prefix.trim_end_matches('/').to_owned())
        }
        None => {
            c.issue(
                &at("url"),
                format!("{:?} is not an http:// URL; expected a URL such as \"http://127.0.0.1:8001\" (TLS to upstreams is not supported yet)", raw.url),
            );
            (String::new(), String::new())
        }
    };
    let mut duration = |k, v: Option<std::time::Duration>, d| {
        let v = v.unwrap_or(d);
        if v.is_zero() {
            c.issue(
                &at(k),
                "must be longer than zero; expected a duration such as \"500ms\" or \"2s\"",
            );
        }
        v
    };
    let connect_timeout =
        duration("connect_timeout", raw.connect_timeout, defaults::UPSTREAM_CONNECT_TIMEOUT);
    let request_timeout =
        duration("request_timeout", raw.request_timeout, defaults::UPSTREAM_REQUEST_TIMEOUT);
    let pool_max_idle = raw.pool_max_idle.unwrap_or(defaults::UPSTREAM_POOL_MAX_IDLE);
    if pool_max_idle == 0 {
        c.issue(&at("pool_max_idle"), "must be at least 1 connection");
    }
    Upstream { side, authority, path_prefix, connect_timeout, request_timeout, pool_max_idle }
}

fn domain(c: &mut Checker<'_>, name: String, raw: RawDomain) -> Domain {
    use Seg::{Index, Key};
    let valid_name = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_name {
        c.issue(
            &[Key("domains"), Key(&name)],
            format!("domain name {name:?} is not valid; expected 1-64 characters of a-z, 0-9, '-' and '_'"),
        );
    }
    if raw.routes.is_empty() {
        c.issue(
            &[Key("domains"), Key(&name), Key("routes")],
            "a domain needs at least one route, e.g. routes = [{ methods = [\"GET\"], path = \"/invoices/{id}\" }]",
        );
    }
    let mut routes = Vec::with_capacity(raw.routes.len());
    let mut route_rules = Vec::new();
    for (i, r) in raw.routes.into_iter().enumerate() {
        if let Some(rules) = r.shadow {
            route_rules.push((i, r.path.clone(), rules));
        }
        let at = [Key("domains"), Key(&name), Key("routes"), Index(i)];
        if !r.path.starts_with('/') {
            let mut p = at.to_vec();
            p.push(Key("path"));
            c.issue(
                &p,
                format!(
                    "{:?} must start with '/'; expected a template such as \"/invoices/{{id}}\"",
                    r.path
                ),
            );
        }
        let methods = match r.methods {
            None => None,
            Some(ms) if ms.iter().any(|m| m == "*") => None,
            Some(ms) => {
                let mut out = Vec::with_capacity(ms.len());
                for m in ms {
                    let up = m.to_ascii_uppercase();
                    if METHODS.contains(&up.as_str()) {
                        if !out.contains(&up) {
                            out.push(up);
                        }
                    } else {
                        let mut p = at.to_vec();
                        p.push(Key("methods"));
                        c.issue(
                            &p,
                            format!(
                                "{m:?} is not a method Ficus routes; expected some of {} or \"*\"",
                                METHODS.join(", ")
                            ),
                        );
                    }
                }
                if out.is_empty() { None } else { Some(out) }
            }
        };
        let (id_pointer, key) = super::writes::route_keys(c, &at, &r.path, r.id_pointer, r.key);
        routes.push(Route { methods, path: r.path, repeatable: r.repeatable, id_pointer, key });
    }
    let sticky = raw.sticky.and_then(|s| sticky(c, &name, s, &routes));
    let shadow = super::shadow::check(c, &name, raw.shadow.unwrap_or_default(), route_rules);
    let data = raw.data.map(|d| super::data::check(c, &name, d));
    let sync = super::writes::sync(c, &name, raw.sync.as_deref());
    Domain {
        sync,
        shadow,
        data,
        initial_phase: raw.phase.unwrap_or(Phase::Legacy),
        read_new_percent: c
            .percent(&[Key("domains"), Key(&name), Key("read_new_percent")], raw.read_new_percent),
        shadow_percent: c
            .percent(&[Key("domains"), Key(&name), Key("shadow_percent")], raw.shadow_percent),
        sticky,
        routes,
        name,
    }
}

fn sticky(c: &mut Checker<'_>, name: &str, s: RawSticky, routes: &[Route]) -> Option<StickyKey> {
    use Seg::Key;
    let at = [Key("domains"), Key(name), Key("sticky")];
    let given: Vec<StickyKey> = [
        s.header.map(|h| StickyKey::Header(h.to_ascii_lowercase())),
        s.cookie.map(StickyKey::Cookie),
        s.query.map(StickyKey::Query),
        s.path.map(StickyKey::PathParam),
    ]
    .into_iter()
    .flatten()
    .collect();
    let [key] = given.as_slice() else {
        c.issue(&at, "set exactly one of header, cookie, query or path, e.g. sticky = { header = \"x-customer-id\" }");
        return None;
    };
    if let StickyKey::PathParam(p) = key {
        let needle = format!("{{{p}}}");
        if !routes.iter().any(|r| r.path.contains(&needle)) {
            let mut path = at.to_vec();
            path.push(Key("path"));
            c.issue(&path, format!("no route of this domain has the path parameter {needle}; name one of its templates' parameters"));
        }
    }
    let empty = match key {
        StickyKey::Header(v)
        | StickyKey::Cookie(v)
        | StickyKey::Query(v)
        | StickyKey::PathParam(v) => v.is_empty(),
    };
    if empty {
        c.issue(&at, "the sticky key name must not be empty");
    }
    Some(key.clone())
}
