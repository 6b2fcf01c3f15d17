//! The decision pipeline's rules through `edge_auth_core::decide`, one test per
//! rule: token cache, rate limit, CORS, login redirect, token sources, claim
//! conditions, pipeline order and fail-closed paths.

use edge_auth_core::ConfigErrorKind;
use edge_auth_core::config::EdgeConfig;
use edge_auth_core::{CfRequest, Ctx, Decision, EdgeState, Header, Matcher, Reason, decide};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use workspace_tests::{assert_emf, config_in, fixture, shipped_matcher};

const NOW: u64 = 1_800_000_000;
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

fn config(extra: &str) -> EdgeConfig {
    config_top("", extra)
}

/// `top` holds top-level keys (they must precede the first table).
fn config_top(top: &str, extra: &str) -> EdgeConfig {
    let dir = fixture("keys");
    let toml = format!(
        "{top}\n[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\nleeway_seconds = 30\njwks_file = \"jwks.json\"\n{extra}"
    );
    config_in(&dir, &toml).unwrap()
}

fn token(claims: serde_json::Value) -> String {
    let mut c = json!({"iss": "https://issuer.test", "aud": "edge-tests", "sub": "alice", "iat": NOW, "exp": NOW + 600});
    for (k, v) in claims.as_object().unwrap() {
        c[k] = v.clone();
    }
    let key = workspace_tests::signing_key(&fixture("keys/es256.key.pem"), Algorithm::ES256);
    let mut h = jsonwebtoken::Header::new(Algorithm::ES256);
    h.kid = Some("es256-1".into());
    jsonwebtoken::encode(&h, &c, &key).unwrap()
}

fn req(uri: &str, headers: &[(&str, &str)]) -> CfRequest {
    let mut hs = vec![Header {
        name: "user-agent".into(),
        key: None,
        value: CHROME.into(),
    }];
    hs.extend(headers.iter().map(|(n, v)| Header {
        name: (*n).into(),
        key: None,
        value: (*v).into(),
    }));
    CfRequest {
        client_ip: "203.0.113.5".into(),
        method: "GET".into(),
        uri: uri.into(),
        querystring: String::new(),
        headers: hs,
    }
}

struct Edge {
    cfg: EdgeConfig,
    matcher: &'static Matcher,
    state: EdgeState,
}

impl Edge {
    fn new(extra: &str) -> Edge {
        Edge::with(config(extra))
    }
    fn with(cfg: EdgeConfig) -> Edge {
        let state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
        Edge {
            cfg,
            matcher: shipped_matcher(),
            state,
        }
    }
    fn at(&mut self, now_s: u64, r: &CfRequest) -> edge_auth_core::Outcome {
        let ctx = Ctx {
            now_ms: now_s * 1000,
            config: &self.cfg,
            matcher: Some(self.matcher),
            verified: Some(workspace_tests::shipped_verified()),
        };
        decide(r, &ctx, &mut self.state)
    }
    fn run(&mut self, r: &CfRequest) -> edge_auth_core::Outcome {
        self.at(NOW, r)
    }
}

fn header<'a>(o: &'a edge_auth_core::Outcome, name: &str) -> Option<&'a str> {
    match &o.decision {
        Decision::Respond(r) => r
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str()),
        Decision::Forward { .. } => None,
    }
}

#[test]
fn no_path_rules_means_every_path_needs_a_token() {
    let mut e = Edge::new("");
    for uri in ["/", "/index.html", "/public/x"] {
        assert_eq!(e.run(&req(uri, &[])).reason, Reason::TokenMissing, "{uri}");
    }
}

#[test]
fn cache_hit_skips_verification_but_rechecks_expiry() {
    let mut e = Edge::new("");
    let t = token(json!({"exp": NOW + 100}));
    let auth = format!("Bearer {t}");
    let first = e.run(&req("/a", &[("authorization", &auth)]));
    assert_eq!(
        (first.reason, first.token_cache_hit),
        (Reason::TokenValid, false)
    );
    let second = e.run(&req("/b", &[("authorization", &auth)]));
    assert_eq!(
        (second.reason, second.token_cache_hit),
        (Reason::TokenValid, true)
    );
    // The cached entry never outlives the token.
    let later = e.at(NOW + 100 + 30, &req("/c", &[("authorization", &auth)]));
    assert_eq!(later.reason, Reason::TokenExpired);
    assert_eq!(e.state.tokens.len(), 0, "expired entries are dropped");
}

#[test]
fn cache_is_cleared_when_keys_change() {
    let mut e = Edge::new("jwks_url = \"https://keys.example/jwks.json\"\n");
    let auth = format!("Bearer {}", token(json!({})));
    e.run(&req("/a", &[("authorization", &auth)]));
    assert_eq!(e.state.tokens.len(), 1);
    assert!(
        e.run(&req("/a", &[("authorization", &auth)]))
            .token_cache_hit
    );
    // The only way keys change after load: a fetched JWK Set.
    let before = e.cfg.keys_fingerprint();
    let fetched = std::fs::read_to_string(fixture("keys/partner-jwks.json")).unwrap();
    e.cfg.set_remote_keys(0, &fetched).unwrap();
    assert_ne!(e.cfg.keys_fingerprint(), before);
    let o = e.run(&req("/a", &[("authorization", &auth)]));
    assert!(
        !o.token_cache_hit,
        "a key change must force a fresh verification"
    );
    assert_eq!(
        o.reason,
        Reason::TokenValid,
        "the baked key still verifies it"
    );
}

#[test]
fn rate_limit_answers_429_with_retry_after_and_keys_ipv6_by_64() {
    let mut e = Edge::new(
        "[rate_limit]\nrequests_per_second = 1\nburst = 2\n[[paths]]\nprefix = \"/\"\naccess = \"public\"\n",
    );
    let mut r = req("/x", &[]);
    r.client_ip = "2001:db8:1:2::1".into();
    assert_eq!(e.run(&r).reason, Reason::PublicPath);
    r.client_ip = "2001:db8:1:2::ffff".into();
    assert_eq!(e.run(&r).reason, Reason::PublicPath);
    r.client_ip = "2001:db8:1:2:aaaa::1".into();
    let o = e.run(&r);
    assert_eq!(
        o.reason,
        Reason::RateLimited,
        "same /64 shares one allowance"
    );
    assert_eq!(header(&o, "retry-after"), Some("1"));
    r.client_ip = "2001:db8:1:3::1".into();
    assert_eq!(
        e.run(&r).reason,
        Reason::PublicPath,
        "another /64 is another client"
    );
}

#[test]
fn query_token_is_removed_from_forwarded_query() {
    let mut e = Edge::new("");
    let mut r = req("/video.mp4", &[]);
    r.querystring = format!("a=1&token={}&b=2", token(json!({})));
    let o = e.run(&r);
    assert_eq!(
        o.decision,
        Decision::Forward {
            uri: None,
            querystring: Some("a=1&b=2".into()),
            drop_authorization: false,
            cookie: None,
        }
    );
}

type Forwarded = (Option<String>, Option<String>, bool, Option<Vec<String>>);

/// The changes of a forward: (uri, querystring, drop_authorization, cookie).
fn forwarded(o: &edge_auth_core::Outcome) -> Forwarded {
    match &o.decision {
        Decision::Forward {
            uri,
            querystring,
            drop_authorization,
            cookie,
        } => (
            uri.clone(),
            querystring.clone(),
            *drop_authorization,
            cookie.clone(),
        ),
        Decision::Respond(r) => panic!("expected a forward, got {} ({})", r.status, o.reason),
    }
}

/// Issue #13: the signed-link parameter never reaches the origin, whether
/// the token came from it, from a header, or the path is public.
#[test]
fn signed_link_parameter_is_always_removed() {
    let mut e = Edge::new("[[paths]]\nprefix = \"/public/\"\naccess = \"public\"\n");
    let t = token(json!({}));
    let mut public = req("/public/a.png", &[]);
    public.querystring = "token=stolen&v=2".into();
    assert_eq!(forwarded(&e.run(&public)).1.as_deref(), Some("v=2"));
    let mut both = req("/private/a", &[("authorization", &format!("Bearer {t}"))]);
    both.querystring = "token=other".into();
    let o = e.run(&both);
    assert_eq!(o.reason, Reason::TokenValid);
    assert_eq!(forwarded(&o).1.as_deref(), Some(""));
    let plain = req("/public/a.png", &[]);
    assert_eq!(forwarded(&e.run(&plain)).1, None, "nothing to remove");
}

/// Issue #13: the bearer token and the token cookie are cut before the
/// origin by default; `strip_before_origin = false` keeps them; other
/// cookies and a Basic Authorization header are the origin's business.
#[test]
fn credentials_are_stripped_before_the_origin_by_default() {
    let t = token(json!({}));
    let bearer = format!("Bearer {t}");
    let cookie = format!("theme=dark; access_token={t}; lang=en");
    let r = req(
        "/private/a",
        &[("authorization", &bearer), ("cookie", &cookie)],
    );
    let mut e = Edge::new("");
    let o = e.run(&r);
    assert_eq!(o.reason, Reason::TokenValid);
    let (_, _, drop_auth, cookies) = forwarded(&o);
    assert!(drop_auth);
    assert_eq!(cookies, Some(vec!["theme=dark; lang=en".to_owned()]));
    let mut keep = Edge::new("[tokens]\nstrip_before_origin = false\n");
    let (_, _, drop_auth, cookies) = forwarded(&keep.run(&r));
    assert!(!drop_auth);
    assert_eq!(cookies, None);
    // Only the token cookie: the header disappears when nothing else is left.
    let only = req("/private/a", &[("cookie", &format!("access_token={t}"))]);
    let (_, _, drop_auth, cookies) = forwarded(&e.run(&only));
    assert!(!drop_auth);
    assert_eq!(cookies, Some(vec![]));
    let mut public = Edge::new("[[paths]]\nprefix = \"/\"\naccess = \"public\"\n");
    let basic = req("/x", &[("authorization", "Basic dXNlcjpwYXNz")]);
    assert!(
        !forwarded(&public.run(&basic)).2,
        "Basic is not ours to drop"
    );
}

/// Issue #13: the forwarded URI is the canonical one, so the origin reads
/// exactly the path that was authorized.
#[test]
fn the_canonical_uri_is_forwarded() {
    let mut e = Edge::new("[[paths]]\nprefix = \"/public/\"\naccess = \"public\"\n");
    let (uri, ..) = forwarded(&e.run(&req("/%70ublic/a%2epng", &[])));
    assert_eq!(uri.as_deref(), Some("/public/a.png"));
    let (uri, ..) = forwarded(&e.run(&req("/public/a.png", &[])));
    assert_eq!(uri, None, "already canonical: left alone");
    let o = e.run(&req("/public/..%2fprivate/a", &[]));
    assert_eq!(o.reason, Reason::BadUri);
    assert!(matches!(o.decision, Decision::Respond(ref r) if r.status == 400));
}

/// Issue #13: a clock that is zero, implausible or was not finite (the wasm
/// adapter maps NaN and infinities to 0) answers 503; it never reads as
/// "no token is expired".
#[test]
fn implausible_clock_fails_closed() {
    let mut e = Edge::new("[[paths]]\nprefix = \"/\"\naccess = \"public\"\n");
    let expired = format!("Bearer {}", token(json!({"exp": 1_000})));
    for now_ms in [0, 1, 1_000_000, 5_000_000_000_000, u64::MAX] {
        let cfg = &e.cfg;
        let o = decide(
            &req("/private/a", &[("authorization", &expired)]),
            &Ctx {
                now_ms,
                config: cfg,
                matcher: Some(e.matcher),
                verified: Some(workspace_tests::shipped_verified()),
            },
            &mut e.state,
        );
        assert_eq!(o.reason, Reason::BadClock, "now_ms {now_ms}");
        assert!(matches!(o.decision, Decision::Respond(ref r) if r.status == 503));
    }
}

/// Issue #13: a request decided again after a key refresh (unknown kid)
/// counts once against the rate limit, whatever the pipeline order.
#[test]
fn a_second_decision_after_a_key_refresh_is_charged_once() {
    let dir = fixture("keys");
    let jwks = std::fs::read_to_string(dir.join("jwks.json")).unwrap();
    for pipeline in [
        "pipeline = [\"bots\", \"rate_limit\", \"auth\"]",
        "pipeline = [\"auth\", \"rate_limit\", \"bots\"]",
    ] {
        // Keys only from the network: the first decision meets an unknown kid.
        let toml = format!(
            "{pipeline}\n[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\njwks_url = \"https://keys.example/jwks.json\"\n[rate_limit]\nrequests_per_second = 0.01\nburst = 2\n"
        );
        let mut e = Edge::with(config_in(&dir, &toml).unwrap());
        let r = req(
            "/a",
            &[("authorization", &format!("Bearer {}", token(json!({}))))],
        );
        let run = |e: &mut Edge, again: bool| {
            let ctx = Ctx {
                now_ms: NOW * 1000,
                config: &e.cfg,
                matcher: Some(e.matcher),
                verified: Some(workspace_tests::shipped_verified()),
            };
            if again {
                edge_auth_core::decide_again(&r, &ctx, &mut e.state).reason
            } else {
                decide(&r, &ctx, &mut e.state).reason
            }
        };
        assert_eq!(run(&mut e, false), Reason::UnknownKid, "{pipeline}");
        e.cfg.set_remote_keys(0, &jwks).unwrap();
        // The shim's second decision of the same request: one charge in all.
        assert_eq!(run(&mut e, true), Reason::TokenValid, "{pipeline}");
        // The burst of 2 holds one more request, not two.
        assert_eq!(run(&mut e, false), Reason::TokenValid, "{pipeline}");
        assert_eq!(run(&mut e, false), Reason::RateLimited, "{pipeline}");
    }
}

/// Issue #13: the return address of the login redirect is a path on this
/// site; it never starts `//` or `/\\` (read by browsers as another host).
#[test]
fn login_return_to_never_names_another_host() {
    let mut e = Edge::new(
        "[responses]\nlogin_url = \"https://login.example/authorize?return_to={return_to}\"\n",
    );
    let nav = [("accept", "text/html")];
    for uri in [
        "//evil.example/x",
        "/\\evil.example/x",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
    ] {
        let o = e.run(&req(uri, &nav));
        assert_eq!(o.reason, Reason::BadUri, "{uri}");
        assert!(header(&o, "location").is_none(), "{uri}");
    }
    let o = e.run(&req("/%70rivate/x", &nav));
    assert_eq!(
        header(&o, "location"),
        Some("https://login.example/authorize?return_to=%2Fprivate%2Fx")
    );
}

/// Issue #13: optional `typ` check per issuer (RFC 7515 §4.1.9 comparison;
/// `at+jwt` of RFC 9068).
#[test]
fn typ_is_checked_when_configured() {
    let dir = fixture("keys");
    let with_typ = |typ: Option<&str>| {
        let mut h = jsonwebtoken::Header::new(Algorithm::ES256);
        h.kid = Some("es256-1".into());
        h.typ = typ.map(str::to_owned);
        let claims = json!({"iss": "https://issuer.test", "aud": "edge-tests", "sub": "alice", "iat": NOW, "exp": NOW + 600});
        let key = workspace_tests::signing_key(&fixture("keys/es256.key.pem"), Algorithm::ES256);
        format!(
            "Bearer {}",
            jsonwebtoken::encode(&h, &claims, &key).unwrap()
        )
    };
    let toml = "[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\njwks_file = \"jwks.json\"\ntyp = [\"at+jwt\"]\n";
    let mut e = Edge::with(config_in(&dir, toml).unwrap());
    for (typ, want) in [
        (Some("at+jwt"), Reason::TokenValid),
        (Some("AT+JWT"), Reason::TokenValid),
        (Some("application/at+jwt"), Reason::TokenValid),
        (Some("JWT"), Reason::TypNotAllowed),
        (None, Reason::TypNotAllowed),
    ] {
        assert_eq!(
            e.run(&req("/a", &[("authorization", &with_typ(typ))]))
                .reason,
            want,
            "{typ:?}"
        );
    }
    // Without the setting, any typ is accepted (as before).
    let mut any = Edge::new("");
    assert_eq!(
        any.run(&req("/a", &[("authorization", &with_typ(None))]))
            .reason,
        Reason::TokenValid
    );
    assert!(config_in(&dir, &toml.replace("[\"at+jwt\"]", "[]")).is_err());
}

/// Issue #13: rules and URI families are written as decoded paths; globs
/// are capped; a baked HMAC secret is warned about.
#[test]
fn config_refuses_ambiguous_rules_and_warns_about_baked_secrets() {
    let dir = fixture("keys");
    let base = "[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\njwks_file = \"jwks.json\"\n";
    let refused = |extra: &str, kind: ConfigErrorKind, key: &str| {
        let e = config_in(&dir, &format!("{base}{extra}")).unwrap_err();
        assert_eq!((e.kind, e.key.as_str()), (kind, key), "{e}");
        assert!(e.line.is_some(), "{e}");
        e
    };
    refused(
        "[[paths]]\nprefix = \"/my%20files/\"\naccess = \"public\"\n",
        ConfigErrorKind::Invalid,
        "paths[0]",
    );
    refused(
        "[[paths]]\nglob = \"/a/**/%2e%2e/**\"\naccess = \"public\"\n",
        ConfigErrorKind::Invalid,
        "paths[0]",
    );
    let many = "/*".repeat(edge_auth_core::policy::MAX_GLOB_WILDCARDS + 1);
    let e = refused(
        &format!("[[paths]]\nglob = \"{many}\"\naccess = \"public\"\n"),
        ConfigErrorKind::Invalid,
        "paths[0].glob",
    );
    assert!(e.message.contains("wildcards"), "{e}");
    refused(
        "[[paths]]\nprefix = \"/p/\"\naccess = \"token\"\nsub_prefix = \"/p/../{sub}/\"\n",
        ConfigErrorKind::Invalid,
        "paths[0].sub_prefix",
    );
    refused(
        "[uri]\nallow_encoded_slash = [\"/\"]\n",
        ConfigErrorKind::Invalid,
        "uri.allow_encoded_slash",
    );
    refused(
        "[uri]\nallow_empty_segments = [\"/a/../b/\"]\n",
        ConfigErrorKind::Invalid,
        "uri.allow_empty_segments",
    );
    refused(
        "[[paths]]\nprefix = \"/p/\"\naccess = \"public\"\nrequire_scope = [\"a\"]\n",
        ConfigErrorKind::Conflict,
        "paths[0]",
    );
    refused(
        "[tokens]\nsources = []\n",
        ConfigErrorKind::Missing,
        "tokens.sources",
    );
    refused(
        "[tokens]\nsources = [\"cookie\", \"cookie\"]\n",
        ConfigErrorKind::Conflict,
        "tokens.sources",
    );
    refused(
        "[responses]\nlogin_url = \"http://login.example/\"\n",
        ConfigErrorKind::Unsafe,
        "responses.login_url",
    );
    let ok = config_in(
        &dir,
        &format!("{base}[uri]\nallow_encoded_slash = [\"/wiki/\"]\n"),
    )
    .unwrap();
    assert_eq!(ok.uri.allow_encoded_slash, vec!["/wiki/".to_owned()]);
    assert!(
        !ok.warnings.iter().any(|w| w.contains("hmac_secret")),
        "{:?}",
        ok.warnings
    );
    let hmac = config_in(
        &dir,
        "[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"HS256\"]\nhmac_secret = \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC0xMjM0NQ\"\n",
    )
    .unwrap();
    assert!(
        hmac.warnings
            .iter()
            .any(|w| w.contains("lambda:GetFunction")),
        "{:?}",
        hmac.warnings
    );
}

#[test]
fn token_source_order_is_respected() {
    let mut e =
        Edge::new("[tokens]\nsources = [\"cookie\", \"authorization\"]\ncookie_name = \"jwt\"\n");
    let good = token(json!({}));
    // The cookie comes first: a bad cookie decides even with a good header.
    let o = e.run(&req(
        "/a",
        &[
            ("cookie", "jwt=bad.token.here"),
            ("authorization", &format!("Bearer {good}")),
        ],
    ));
    assert_eq!(o.reason, Reason::TokenMalformed);
    let o = e.run(&req(
        "/a",
        &[
            ("cookie", "other=1"),
            ("authorization", &format!("bearer   {good}")),
        ],
    ));
    assert_eq!(o.reason, Reason::TokenValid, "scheme is case-insensitive");
}

#[test]
fn scope_and_path_claims() {
    let rules = "[[paths]]\nprefix = \"/admin/\"\naccess = \"token\"\nrequire_scope = [\"admin\"]\n[[paths]]\nprefix = \"/shared/\"\naccess = \"token\"\npath_claim = \"paths\"\n";
    let mut e = Edge::new(rules);
    let user = format!(
        "Bearer {}",
        token(json!({"scope": "read", "paths": ["/shared/team-a/"]}))
    );
    let admin = format!("Bearer {}", token(json!({"scp": ["admin"]})));
    let o = e.run(&req("/admin/x", &[("authorization", &user)]));
    assert_eq!(
        (o.reason, o.token_cache_hit),
        (Reason::InsufficientClaims, false)
    );
    assert!(header(&o, "www-authenticate").is_some_and(|v| v.contains("insufficient_scope")));
    assert_eq!(
        e.run(&req("/admin/x", &[("authorization", &admin)])).reason,
        Reason::TokenValid
    );
    // The same token again: taken from the cache, and its claims held to
    // each path's rule all the same.
    let o = e.run(&req("/shared/team-a/doc", &[("authorization", &user)]));
    assert_eq!((o.reason, o.token_cache_hit), (Reason::TokenValid, true));
    let o = e.run(&req("/shared/team-b/doc", &[("authorization", &user)]));
    assert_eq!(
        (o.reason, o.token_cache_hit),
        (Reason::InsufficientClaims, true)
    );
    let o = e.run(&req("/admin/x", &[("authorization", &user)]));
    assert_eq!(
        (o.reason, o.token_cache_hit),
        (Reason::InsufficientClaims, true)
    );
}

#[test]
fn with_no_token_cache_every_request_is_verified_and_held_to_its_rule() {
    let rules = "[tokens]\ncache_entries = 0\n[[paths]]\nprefix = \"/admin/\"\naccess = \"token\"\nrequire_scope = [\"admin\"]\n";
    let mut e = Edge::new(rules);
    let user = format!("Bearer {}", token(json!({"scope": "read"})));
    for _ in 0..2 {
        let o = e.run(&req("/a", &[("authorization", &user)]));
        assert_eq!((o.reason, o.token_cache_hit), (Reason::TokenValid, false));
        let o = e.run(&req("/admin/x", &[("authorization", &user)]));
        assert_eq!(
            (o.reason, o.token_cache_hit),
            (Reason::InsufficientClaims, false)
        );
    }
    assert!(e.state.tokens.is_empty());
}

#[test]
fn cors_preflight_is_answered_from_config() {
    let mut e = Edge::new(
        "[cors]\npreflight = \"respond\"\nallow_origins = [\"https://app.example\"]\nallow_headers = [\"authorization\"]\nmax_age_seconds = 600\n",
    );
    let mut r = req(
        "/api/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    );
    r.method = "OPTIONS".into();
    let o = e.run(&r);
    assert_eq!(o.reason, Reason::CorsPreflight);
    assert_eq!(
        header(&o, "access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(header(&o, "access-control-max-age"), Some("600"));
    let mut r2 = req(
        "/api/x",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "GET"),
        ],
    );
    r2.method = "OPTIONS".into();
    assert_eq!(header(&e.run(&r2), "access-control-allow-origin"), None);
    assert_eq!(
        header(&o, "access-control-allow-headers"),
        Some("authorization")
    );
    // Not a preflight: a GET that carries the preflight header, and an
    // OPTIONS without it, both need a token like any other request.
    let get = req(
        "/api/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "GET"),
        ],
    );
    assert_eq!(e.run(&get).reason, Reason::TokenMissing);
    let mut bare = req("/api/x", &[("origin", "https://app.example")]);
    bare.method = "OPTIONS".into();
    assert_eq!(e.run(&bare).reason, Reason::TokenMissing);
    // No allowed headers configured: none announced.
    let mut quiet =
        Edge::new("[cors]\npreflight = \"respond\"\nallow_origins = [\"https://app.example\"]\n");
    let o = quiet.run(&r);
    assert_eq!(o.reason, Reason::CorsPreflight);
    assert_eq!(header(&o, "access-control-allow-headers"), None);
    assert_eq!(
        header(&o, "access-control-allow-methods"),
        Some("GET, HEAD")
    );
}

#[test]
fn login_redirect_only_for_browser_navigations() {
    let mut e = Edge::new(
        "[responses]\nlogin_url = \"https://login.example/authorize?return_to={return_to}\"\n",
    );
    let o = e.run(&req(
        "/private/a b",
        &[("accept", "text/html,application/xhtml+xml")],
    ));
    let Decision::Respond(r) = &o.decision else {
        panic!("expected a response")
    };
    assert_eq!(r.status, 302);
    assert_eq!(
        header(&o, "location"),
        Some("https://login.example/authorize?return_to=%2Fprivate%2Fa%2520b")
    );
    let api = e.run(&req("/private/a", &[("accept", "application/json")]));
    assert!(matches!(api.decision, Decision::Respond(ref r) if r.status == 401));
}

#[test]
fn bots_before_auth_and_every_response_is_no_store() {
    let mut e = Edge::new("");
    let mut r = req("/x", &[]);
    r.headers[0].value =
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)".into();
    let o = e.run(&r);
    assert_eq!(o.reason, Reason::BotBlocked);
    assert_eq!(o.bot.as_ref().map(|b| b.category.as_str()), Some("seo"));
    assert_eq!(header(&o, "cache-control"), Some("no-store"));
    // Auth first, then bots: the missing token decides.
    let mut e2 = Edge::with(config_top("pipeline = [\"auth\", \"bots\"]", ""));
    assert_eq!(e2.run(&r).reason, Reason::TokenMissing);
}

#[test]
fn missing_matcher_fails_closed() {
    let cfg = config("[[paths]]\nprefix = \"/\"\naccess = \"public\"\n");
    let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
    let ctx = Ctx {
        now_ms: NOW * 1000,
        config: &cfg,
        matcher: None,
        verified: None,
    };
    let o = decide(&req("/x", &[]), &ctx, &mut state);
    assert_eq!(o.reason, Reason::InternalError);
    assert!(matches!(o.decision, Decision::Respond(ref r) if r.status == 503));
}

#[test]
fn generated_responses_never_touch_cloudfront_restricted_headers() {
    // Read-only at viewer-request or never allowed in generated responses (CloudFront docs).
    const RESTRICTED: &[&str] = &[
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "trailer",
        "upgrade",
        "x-accel-buffering",
        "x-accel-charset",
        "x-accel-limit-rate",
        "x-accel-redirect",
        "x-cache",
        "x-forwarded-proto",
        "x-real-ip",
        "host",
        "content-length",
        "transfer-encoding",
        "via",
    ];
    let mut e = Edge::new(
        "[responses]\nlogin_url = \"https://login.example/?r={return_to}\"\n[cors]\npreflight = \"respond\"\nallow_origins = [\"https://a.example\"]\n[rate_limit]\nrequests_per_second = 1\nburst = 1\n",
    );
    let mut requests = vec![
        req("/a", &[]),
        req("/a", &[("accept", "text/html")]),
        req("/a", &[("authorization", "Bearer x.y.z")]),
    ];
    let mut pre = req(
        "/a",
        &[
            ("origin", "https://a.example"),
            ("access-control-request-method", "GET"),
        ],
    );
    pre.method = "OPTIONS".into();
    requests.push(pre);
    let mut bot = req("/a", &[]);
    bot.headers[0].value = "sqlmap/1.8".into();
    requests.push(bot);
    let mut seen = 0;
    for r in &requests {
        for _ in 0..2 {
            if let Decision::Respond(resp) = e.run(r).decision {
                seen += 1;
                for (name, _) in &resp.headers {
                    assert!(
                        !RESTRICTED.contains(name)
                            && !name.starts_with("x-amz-cf-")
                            && !name.starts_with("x-edge-"),
                        "{name}"
                    );
                }
            }
        }
    }
    assert!(seen >= 8);
}

#[test]
fn decision_logs_are_embedded_metric_format() {
    let mut e = Edge::new("");
    let mut bot = req("/x", &[]);
    bot.headers[0].value =
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)".into();
    let t = token(json!({}));
    let cases = [
        bot,
        req("/x", &[("authorization", &format!("Bearer {t}"))]),
        req("/x", &[("authorization", &format!("Bearer {t}"))]),
        req("/x", &[]),
    ];
    let mut hits = 0;
    for r in cases {
        let o = e.run(&r);
        let event = edge_auth_event::ParsedEvent {
            request: r.clone(),
            raw_request: serde_json::Value::Null,
            request_id: Some("abc".into()),
        };
        let rec = edge_auth_event::log_record(&o, &event, NOW * 1000);
        assert_emf(&rec, "EdgeAuth");
        assert_eq!(rec["reason"], o.reason.as_str());
        hits += rec["token_cache_hits"].as_u64().unwrap();
        if o.bot.is_some() {
            assert_eq!(rec["bot_category"], "seo");
        }
        let decision: serde_json::Value =
            serde_json::from_str(&edge_auth_event::decision_json(&o)).unwrap();
        assert_eq!(rec["reason"], decision["reason"]);
        let forwarded = matches!(o.decision, edge_auth_core::Decision::Forward { .. });
        assert_eq!(decision["forward"] == true, forwarded, "{decision}");
    }
    assert_eq!(
        hits, 1,
        "the second request with the same token is a cache hit"
    );
}

#[test]
fn log_records_never_contain_tokens_cookies_queries_or_full_ips() {
    let mut e = Edge::new("");
    let t = token(json!({}));
    let cookie = format!("access_token={t}; session=s3cr3t-session");
    let mut r = req(
        "/private/a",
        &[
            ("authorization", &format!("Bearer {t}")),
            ("cookie", &cookie),
        ],
    );
    r.client_ip = "203.0.113.77".into();
    r.querystring = "sig=query-secret&x=1".into();
    let mut bad = r.clone();
    bad.headers[1].value = format!("Bearer {}x", &t[..t.len() - 1]);
    for r in [r, bad] {
        let o = e.run(&r);
        let event = edge_auth_event::ParsedEvent {
            request: r.clone(),
            raw_request: serde_json::Value::Null,
            request_id: None,
        };
        let log = edge_auth_event::log_record(&o, &event, NOW * 1000).to_string();
        let compact = edge_auth_event::decision_json(&o);
        for secret in [&t[..20], "s3cr3t-session", "query-secret", "203.0.113.77"] {
            assert!(!log.contains(secret), "{secret:?} leaked into {log}");
        }
        // The decision handed to the shim carries what the origin gets (the
        // other cookies), never the token or the address.
        for secret in [&t[..20], &t[t.len() - 20..], "203.0.113.77"] {
            assert!(
                !compact.contains(secret),
                "{secret:?} leaked into {compact}"
            );
        }
        assert!(log.contains("203.0.113.0/24"), "{log}");
    }
}

#[test]
fn remote_keys_join_the_baked_ones_and_clear_the_cache() {
    let dir = fixture("keys");
    let base = "[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\n";
    let refused = |extra: &str, kind: ConfigErrorKind, key: &str| {
        let e = config_in(&dir, &format!("{base}{extra}")).unwrap_err();
        assert_eq!((e.kind, e.key.as_str()), (kind, key), "{e}");
    };
    refused(
        "jwks_url = \"http://keys.example/jwks.json\"\n",
        ConfigErrorKind::Unsafe,
        "jwt.jwks_url",
    );
    refused(
        "jwks_url = \"https://keys.example/jwks.json\"\njwks_timeout_ms = 9000\n",
        ConfigErrorKind::Invalid,
        "jwt.jwks_timeout_ms",
    );
    refused("", ConfigErrorKind::Missing, "jwt.jwks_file");
    // Keys only from the network: nothing verifies until a fetch succeeds.
    let mut cfg = config_in(
        &dir,
        &format!("{base}jwks_url = \"https://keys.example/jwks.json\"\n"),
    )
    .unwrap();
    assert_eq!(cfg.remote_jwks().len(), 1);
    let auth = format!("Bearer {}", token(json!({})));
    let mut state = EdgeState::new(&cfg, edge_auth_core::HashKeys::new(1, 2));
    let matcher = shipped_matcher();
    let mut decide_now = |cfg: &EdgeConfig| {
        decide(
            &req("/a", &[("authorization", &auth)]),
            &Ctx {
                now_ms: NOW * 1000,
                config: cfg,
                matcher: Some(matcher),
                verified: Some(workspace_tests::shipped_verified()),
            },
            &mut state,
        )
    };
    assert_eq!(decide_now(&cfg).reason, Reason::UnknownKid);
    let before = cfg.keys_fingerprint();
    assert!(cfg.set_remote_keys(0, "not json").is_err());
    assert_eq!(
        cfg.keys_fingerprint(),
        before,
        "a bad fetch changes nothing"
    );
    let jwks = std::fs::read_to_string(dir.join("jwks.json")).unwrap();
    cfg.set_remote_keys(0, &jwks).unwrap();
    assert_ne!(cfg.keys_fingerprint(), before);
    assert_eq!(decide_now(&cfg).reason, Reason::TokenValid);
    // A fetched key never replaces a baked one with the same kid.
    let mut both = config_in(
        &dir,
        &format!(
            "{base}jwks_file = \"jwks.json\"\njwks_url = \"https://keys.example/jwks.json\"\n"
        ),
    )
    .unwrap();
    let warnings = both.set_remote_keys(0, &jwks).unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("a baked key has that kid")),
        "{warnings:?}"
    );
}

/// The bundle reads the config `cargo xtask dist` bakes from the TOML
/// (`EdgeConfig::to_baked`): it must be the same config, and decide every
/// request as the TOML config does.
#[test]
fn baked_config_is_the_toml_config() {
    let keys = fixture("keys");
    let issuer = "[jwt]\nissuer = \"https://issuer.test\"\naudience = [\"edge-tests\", \"other\"]\nalgorithms = [\"ES256\", \"RS256\"]\nleeway_seconds = 5\nmax_age_seconds = 3600\nrequired_claims = [\"sub\"]\njwks_file = \"jwks.json\"\njwks_url = \"https://keys.example/jwks.json\"\njwks_timeout_ms = 900\n";
    let cases: Vec<(std::path::PathBuf, String)> = vec![
        (
            workspace_tests::repo_root().join("examples/demo"),
            std::fs::read_to_string(workspace_tests::repo_root().join("examples/demo/edge.toml"))
                .unwrap(),
        ),
        (
            fixture("conformance"),
            std::fs::read_to_string(fixture("conformance/edge.toml")).unwrap(),
        ),
        (
            keys.clone(),
            format!(
                "pipeline = [\"rate_limit\", \"bots\", \"auth\"]\n{issuer}\
                 [rate_limit]\nrequests_per_second = 2.5\nburst = 4\nmax_clients = 100\n\
                 [bots]\nrate_limit_per_minute = 30\nrate_limit_burst = 3\nempty_user_agent = \"allow\"\n\
                 [tokens]\nsources = [\"cookie\", \"query\"]\ncookie_name = \"t\"\nquery_param = \"sig\"\n\
                 [cors]\npreflight = \"respond\"\nallow_origins = [\"https://a.example\"]\n\
                 [responses]\nrealm = \"r\"\nlogin_url = \"https://login.example/?r={{return_to}}\"\n\
                 [[paths]]\nglob = \"/a/*/b\"\naccess = \"public\"\n\
                 [[paths]]\nprefix = \"/p/\"\naccess = \"token\"\nrequire_scope = [\"read\"]\nsub_prefix = \"/p/{{sub}}/\"\n"
            ),
        ),
    ];
    for (dir, toml) in cases {
        let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| e.to_string());
        let from_toml = EdgeConfig::parse(&toml, read).unwrap_or_else(|e| panic!("{e}\n{toml}"));
        let baked = from_toml.to_baked();
        let from_baked = EdgeConfig::from_baked(&baked).unwrap();
        assert_eq!(
            format!("{from_toml:?}"),
            format!("{from_baked:?}"),
            "{toml}"
        );
        assert_eq!(from_baked.to_baked(), baked, "key material too: {toml}");
        decide_alike(&from_toml, &from_baked);
    }
}

/// Tokens of every fixture key (and the demo's, and the conformance HMAC
/// secret) for every issuer and audience the cases trust, tampered ones and
/// none, on every kind of path, from a browser, a tool and no user-agent: `a`
/// and `b` decide each alike, and both accept some tokens.
fn decide_alike(a: &EdgeConfig, b: &EdgeConfig) {
    let (mut sa, mut sb) = (
        EdgeState::new(a, edge_auth_core::HashKeys::new(1, 2)),
        EdgeState::new(b, edge_auth_core::HashKeys::new(1, 2)),
    );
    let secret = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        "vzvRv-zay-LaV2Pc3P4HkCvRvQhCrrdZd5_gL1rIqUU",
    )
    .unwrap();
    let demo = workspace_tests::repo_root().join("examples/demo/demo-es256.key.pem");
    let signed_by =
        |alg, kid, path: &std::path::Path| (alg, kid, workspace_tests::signing_key(path, alg));
    let keys = [
        signed_by(Algorithm::ES256, "es256-1", &fixture("keys/es256.key.pem")),
        signed_by(Algorithm::ES384, "es384-1", &fixture("keys/es384.key.pem")),
        signed_by(Algorithm::RS256, "rs256-1", &fixture("keys/rs256.key.pem")),
        signed_by(Algorithm::PS256, "rs256-1", &fixture("keys/rs256.key.pem")),
        signed_by(
            Algorithm::EdDSA,
            "ed25519-1",
            &fixture("keys/ed25519.key.pem"),
        ),
        signed_by(
            Algorithm::ES256,
            "partner-1",
            &fixture("keys/other-issuer-es256.key.pem"),
        ),
        signed_by(Algorithm::ES256, "demo-es256-1", &demo),
        (Algorithm::HS256, "hmac", EncodingKey::from_secret(&secret)),
    ];
    let mut tokens = vec![None];
    for (iss, aud) in [
        ("https://issuer.test", "edge-tests"),
        ("https://partner.test", "partner-aud"),
        ("https://hmac.test", "hmac-aud"),
        ("https://demo-issuer.example", "demo-site"),
    ] {
        for (alg, kid, key) in &keys {
            let mut h = jsonwebtoken::Header::new(*alg);
            h.kid = Some((*kid).into());
            let claims = json!({"iss": iss, "aud": aud, "sub": "alice", "scope": "read", "iat": NOW, "exp": NOW + 600});
            let t = jsonwebtoken::encode(&h, &claims, key).unwrap();
            let mut tampered = t.clone();
            let last = tampered.pop().unwrap();
            tampered.push(if last == 'A' { 'B' } else { 'A' });
            tokens.extend([Some(t), Some(tampered)]);
        }
    }
    let ctx = |config| Ctx {
        now_ms: NOW * 1000,
        config,
        matcher: Some(shipped_matcher()),
        verified: None,
    };
    let (mut n, mut accepted) = (0, 0);
    for path in [
        "/public/x.css",
        "/private/alice/a.jpg",
        "/p/alice/x",
        "/a/q/b",
        "/other",
        "/assets/x/y.js",
    ] {
        for ua in [CHROME, "curl/8.4.0", ""] {
            for token in &tokens {
                let mut headers = vec![("user-agent", ua.to_owned())];
                if let Some(t) = token {
                    headers.push(("authorization", format!("Bearer {t}")));
                    // The cookie names of the cases (`access_token`, `t`).
                    headers.push(("cookie", format!("access_token={t}; t={t}")));
                }
                let r = CfRequest {
                    client_ip: format!("198.18.{}.{}", n >> 8, n & 255), // one client each
                    method: "GET".into(),
                    uri: path.into(),
                    querystring: String::new(),
                    headers: headers
                        .into_iter()
                        .map(|(name, value)| Header {
                            name: name.into(),
                            key: None,
                            value,
                        })
                        .collect(),
                };
                let oa = decide(&r, &ctx(a), &mut sa);
                let ob = decide(&r, &ctx(b), &mut sb);
                assert_eq!(
                    format!("{oa:?}"),
                    format!("{ob:?}"),
                    "{path} {ua:?} {token:?}"
                );
                accepted += usize::from(oa.reason == Reason::TokenValid);
                n += 1;
            }
        }
    }
    assert!(
        n > 500 && accepted > 0,
        "{n} requests, {accepted} tokens accepted"
    );
}

/// Issue #14: a good bot's claim is checked against its operator's published
/// addresses; the decision, the log record and its metrics say what became of
/// it; `unverified_claim = "ignore"` disregards a spoofed claim and lets the
/// other signatures (here the generic rules) decide.
#[test]
fn good_bot_claims_are_verified_by_address() {
    let googlebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    let public = "[[paths]]\nprefix = \"/\"\naccess = \"public\"\n";
    let mut r = req("/x", &[]);
    r.headers[0].value = googlebot.into();
    let log_of = |o: &edge_auth_core::Outcome, r: &CfRequest| {
        let event = edge_auth_event::ParsedEvent {
            request: r.clone(),
            raw_request: serde_json::Value::Null,
            request_id: None,
        };
        edge_auth_event::log_record(o, &event, NOW * 1000)
    };
    let mut e = Edge::new(public);
    for (ip, reason, claim) in [
        ("66.249.66.1", Reason::PublicPath, "verified"),
        ("2001:4860:4801:10::2a", Reason::PublicPath, "verified"),
        ("::ffff:66.249.66.1", Reason::PublicPath, "verified"),
        ("203.0.113.66", Reason::BotSpoofed, "spoofed"),
        ("20.191.45.212", Reason::BotSpoofed, "spoofed"), // DuckDuckBot's address
        ("not an address", Reason::BotSpoofed, "spoofed"),
    ] {
        r.client_ip = ip.into();
        let o = e.run(&r);
        assert_eq!(o.reason, reason, "{ip}");
        let log = log_of(&o, &r);
        assert_eq!(log["bot_claim"], claim, "{ip}: {log}");
        assert_eq!(log["bot_operator"], "google", "{ip}: {log}");
        assert_emf(&log, "EdgeAuth");
    }
    let mut ignore = Edge::new(&format!("[bots]\nunverified_claim = \"ignore\"\n{public}"));
    r.client_ip = "203.0.113.66".into();
    let o = ignore.run(&r);
    assert_eq!(
        o.reason,
        Reason::BotBlocked,
        "the claim disregarded, a generic rule decides"
    );
    assert!(
        o.bot.as_ref().is_some_and(|b| b.id != "cua-googlebot"),
        "{:?}",
        o.bot
    );
    assert_eq!(log_of(&o, &r)["bot_claim"], "spoofed");
    // A claim the catalog verifies by no means: taken on its word, and logged so.
    let mut bing = r.clone();
    bing.headers[0].value =
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)".into();
    let o = e.run(&bing);
    assert_eq!(o.reason, Reason::PublicPath);
    let log = log_of(&o, &bing);
    assert_eq!(
        (log["bot_claim"].as_str(), log["bot_operator"].as_str()),
        (Some("unverified"), Some("none"))
    );
    assert!(config_in(&fixture("keys"), "[bots]\nunverified_claim = \"maybe\"\n[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\njwks_file = \"jwks.json\"\n").is_err());
}

/// Web Bot Auth on the demo config: the demo agent's signature verifies its
/// claim (logged with how), a missing, expired or replayed one leaves it
/// spoofed, a second decision of the same request does not count its nonce
/// twice, and the config refuses what would widen trust.
#[test]
fn signed_agents_verify_claims_replays_fail_and_logs_say_how() {
    use base64::Engine;
    use edge_auth_core::webbotauth::base_for_input;
    let cfg = workspace_tests::demo_config();
    let mut e = Edge::with(cfg);
    let event = |name: &str| {
        edge_auth_event::parse_event(
            &std::fs::read_to_string(fixture(&format!("viewer-request/{name}.json"))).unwrap(),
        )
        .unwrap()
    };
    let now = crate::golden::NOW_UNIX_S;
    let log = |o: &edge_auth_core::Outcome, ev: &edge_auth_event::ParsedEvent| {
        edge_auth_event::log_record(o, ev, now * 1000)
    };
    let ok = event("signed-agent-verified");
    let o = e.at(now, &ok.request);
    assert_eq!(o.reason, Reason::PublicPath);
    let l = log(&o, &ok);
    for (k, v) in [
        ("bot_claim", "verified"),
        ("bot_operator", "demo-agent"),
        ("bot_verified_by", "signature"),
        ("bot_signature", "verified"),
        ("bot_signed_agent", "demo-agent"),
    ] {
        assert_eq!(l[k], v, "{k}: {l}");
    }
    assert_emf(&l, "EdgeAuth");
    for (name, signature) in [
        ("signed-agent-unsigned-403", None),
        ("signed-agent-expired-403", Some("expired")),
        ("signed-agent-other-host-403", Some("bad_signature")),
        ("signed-agent-wrong-tag-403", None),
    ] {
        let ev = event(name);
        let o = e.at(now, &ev.request);
        assert_eq!(o.reason, Reason::BotSpoofed, "{name}");
        let l = log(&o, &ev);
        assert_eq!(l["bot_claim"], "spoofed", "{name}: {l}");
        assert_eq!(l["bot_signature"].as_str(), signature, "{name}: {l}");
        assert!(l.get("bot_verified_by").is_none(), "{name}: {l}");
    }

    // A signature with a nonce, made here with the RFC 9421 test key.
    let jwk: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("keys/web-bot-auth-test-key.jwk.json")).unwrap(),
    )
    .unwrap();
    let seed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jwk["d"].as_str().unwrap())
        .unwrap();
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend(&seed);
    let signing = jsonwebtoken::EncodingKey::from_ed_der(&der);
    let keyid = edge_auth_core::webbotauth::thumbprint(jwk["x"].as_str().unwrap());
    let mut r = ok.request.clone();
    r.headers
        .retain(|h| h.name != "signature" && h.name != "signature-input");
    let params = format!(
        "(\"@authority\" \"signature-agent\" \"@path\");created={};expires={};keyid=\"{keyid}\";nonce=\"n-1\";tag=\"web-bot-auth\"",
        now - 10,
        now + 50
    );
    let base = base_for_input(&r, &r.uri, &params).unwrap();
    let sig = jsonwebtoken::crypto::sign(base.as_bytes(), &signing, jsonwebtoken::Algorithm::EdDSA)
        .unwrap();
    let sig = base64::engine::general_purpose::STANDARD.encode(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sig)
            .unwrap(),
    );
    for (name, value) in [
        ("signature-input", format!("w={params}")),
        ("signature", format!("w=:{sig}:")),
    ] {
        r.headers.push(edge_auth_core::Header {
            name: name.into(),
            key: None,
            value,
        });
    }
    let mut fresh = Edge::with(e.cfg.clone());
    assert_eq!(fresh.at(now, &r).reason, Reason::PublicPath);
    // The host decides the same request again (after a key refresh): the
    // nonce is not counted twice.
    let ctx = Ctx {
        now_ms: now * 1000,
        config: &fresh.cfg,
        matcher: Some(fresh.matcher),
        verified: Some(workspace_tests::shipped_verified()),
    };
    let again = edge_auth_core::decide_again(&r, &ctx, &mut fresh.state);
    assert_eq!(again.reason, Reason::PublicPath);
    // The same signed request a second time: a replay.
    let o = fresh.at(now + 1, &r);
    assert_eq!(o.reason, Reason::BotSpoofed);
    assert_eq!(o.signature.as_ref().map(|s| s.status), Some("replayed"));
    // The signature covers @path: the same headers on another path fail.
    let mut moved = r.clone();
    moved.uri = "/public/other.html".into();
    let o = Edge::with(e.cfg.clone()).at(now, &moved);
    assert_eq!(
        o.signature.as_ref().map(|s| s.status),
        Some("bad_signature")
    );

    // The config refuses what would widen trust or could not work.
    let x = jwk["x"].as_str().unwrap();
    let d = jwk["d"].as_str().unwrap();
    let issuer = "[jwt]\nissuer = \"https://issuer.test\"\naudience = \"edge-tests\"\nalgorithms = [\"ES256\"]\njwks_file = \"jwks.json\"\n";
    let agent = |body: &str| {
        config_in(
            &fixture("keys"),
            &format!("[[bots.signed_agents]]\n{body}\n{issuer}"),
        )
    };
    assert!(agent(&format!("name = \"a\"\nagent = \"https://a.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\" }}]")).is_ok());
    for (bad, why) in [
        (format!("name = \"a\"\nagent = \"https://a.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\", d = \"{d}\" }}]"), "private"),
        (format!("name = \"a\"\nagent = \"http://a.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\" }}]"), "https"),
        ("name = \"a\"\nagent = \"https://a.example\"\nkeys = []".to_owned(), "empty"),
        ("name = \"a\"\nagent = \"https://a.example\"\nkeys = [{ kty = \"EC\", crv = \"P-256\", x = \"AA\" }]".to_owned(), "Ed25519"),
        (format!("name = \"a b\"\nagent = \"https://a.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\" }}]"), "name"),
        (format!("name = \"a\"\nagent = \"https://a.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\" }}]\n[[bots.signed_agents]]\nname = \"b\"\nagent = \"https://b.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\" }}]"), "one key, one agent"),
        (format!("name = \"a\"\nagent = \"https://a.example\"\nkeys = [{{ kty = \"OKP\", crv = \"Ed25519\", x = \"{x}\" }}]\n[bots]\nsignature_leeway_seconds = 301"), "leeway"),
    ] {
        let e = agent(&bad).expect_err(&bad);
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
}

/// No log record leaks a secret, for every golden fixture (every outcome
/// the fixtures reach) and for variants of each with the client on IPv6 and
/// the request's token moved into the query string: no 16-character piece of
/// any token (header, claims or signature), no cookie or query value, no
/// full client address (IPv4 keeps its /24, IPv6 its /48).
#[test]
fn no_log_record_leaks_a_secret_on_any_fixture() {
    let cfg = workspace_tests::demo_config();
    let query_param = cfg.query_param.clone();
    let now = crate::golden::NOW_UNIX_S;
    let mut reasons = std::collections::BTreeSet::new();
    let mut checked = 0;
    let names = workspace_tests::viewer_request_events();
    for path in names {
        let Ok(event) = edge_auth_event::parse_event(&std::fs::read_to_string(&path).unwrap())
        else {
            continue;
        };
        let original = event.request.clone();
        let token = original
            .header("authorization")
            .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim().to_owned()))
            .filter(|t| t.len() > 40);
        let mut variants = vec![original.clone()];
        let mut v6 = original.clone();
        v6.client_ip = "2001:db8:85a3:8d3:1319:8a2e:370:7348".into();
        variants.push(v6);
        if let Some(t) = &token {
            let mut q = original.clone();
            q.headers.retain(|h| h.name != "authorization");
            q.querystring = format!("{query_param}={t}&page=2");
            variants.push(q);
        }
        for r in variants {
            let mut secrets: Vec<String> = Vec::new();
            for h in &r.headers {
                if h.name == "authorization"
                    && let Some((_, cred)) = h.value.split_once(' ')
                {
                    secrets.push(cred.trim().to_owned());
                }
                if h.name == "cookie" {
                    for kv in h.value.split(';') {
                        if let Some((_, v)) = kv.split_once('=') {
                            secrets.push(v.trim().to_owned());
                        }
                    }
                }
            }
            for kv in r.querystring.split('&') {
                if let Some((_, v)) = kv.split_once('=') {
                    secrets.push(v.to_owned());
                }
            }
            let mut e = Edge::with(cfg.clone());
            let o = e.at(now, &r);
            reasons.insert(o.reason.as_str());
            let ev = edge_auth_event::ParsedEvent {
                request: r.clone(),
                raw_request: serde_json::Value::Null,
                request_id: None,
            };
            let log = edge_auth_event::log_record(&o, &ev, now * 1000).to_string();
            for s in secrets.iter().filter(|s| s.len() >= 8) {
                let pieces: Vec<&str> = if s.len() > 16 {
                    (0..=s.len() - 16)
                        .filter_map(|i| s.get(i..i + 16))
                        .collect()
                } else {
                    vec![s.as_str()]
                };
                for p in pieces {
                    assert!(
                        !log.contains(p),
                        "{}: {p:?} leaked into {log}",
                        path.display()
                    );
                }
            }
            assert!(
                !log.contains(&r.client_ip),
                "{}: the full address in {log}",
                path.display()
            );
            let redacted = edge_auth_core::request::redact_ip(&r.client_ip);
            assert!(
                log.contains(&redacted),
                "{}: {redacted} missing from {log}",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 90, "{checked} records checked");
    assert!(reasons.len() >= 12, "outcomes reached: {reasons:?}");
}
