//! Web Bot Auth against judges this code was not written from: RFC 9421's
//! own Ed25519 vector (Appendix B.2.6), the webbotauth draft's example
//! request, and Cloudflare's `web-bot-auth` crate (pinned 0.7.0) as an oracle
//! that signs requests and verifies them beside the edge
//! (`edge_auth_core::webbotauth::check`). Vectors and their provenance:
//! `tests/vectors/http-message-signatures.json`. No wall clock: "now" comes
//! from the signed request itself.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use edge_auth_core::request::{CfRequest, Header};
use edge_auth_core::webbotauth::{
    AgentKey, Check, DirectoryJwk, Failure, NonceCache, SignedAgent, Window, check,
    ed25519_verifies, signature_base, thumbprint,
};
use indexmap::IndexMap;
use serde_json::Value;
use web_bot_auth::components::{
    CoveredComponent, DerivedComponent, HTTPField, HTTPFieldParametersSet,
};
use web_bot_auth::keyring::{Algorithm, KeyRing};
use web_bot_auth::message_signatures::{MessageSigner, SignedMessage, UnsignedMessage};

const WINDOW: Window = Window {
    leeway_s: 30,
    max_validity_s: 3600,
};

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/http-message-signatures.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn request(method: &str, path: &str, query: &str, headers: &[(String, String)]) -> CfRequest {
    CfRequest {
        client_ip: "203.0.113.50".into(),
        method: method.into(),
        uri: path.into(),
        querystring: query.into(),
        headers: headers
            .iter()
            .map(|(n, v)| Header {
                name: n.clone(),
                key: None,
                value: v.clone(),
            })
            .collect(),
    }
}

fn from_vector(v: &Value) -> CfRequest {
    let headers: Vec<(String, String)> = v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
        .collect();
    request(
        v["method"].as_str().unwrap(),
        v["path"].as_str().unwrap(),
        v["query"].as_str().unwrap(),
        &headers,
    )
}

fn key(x: &str) -> AgentKey {
    AgentKey::from_jwk(&DirectoryJwk {
        kty: "OKP".into(),
        crv: Some("Ed25519".into()),
        x: Some(x.into()),
        d: None,
    })
    .unwrap()
}

fn agent(name: &str, url: &str, xs: &[&str]) -> SignedAgent {
    SignedAgent {
        name: name.into(),
        agent: url.into(),
        keys: xs.iter().map(|x| key(x)).collect(),
        signatures: vec![],
    }
}

#[test]
fn rfc9421_b26_ed25519_vector() {
    let v = &vectors()["rfc9421-b26"];
    let req = from_vector(v);
    let input: sfv::Dictionary = sfv::Parser::new(req.header("signature-input").unwrap())
        .parse_dictionary()
        .unwrap();
    let Some(sfv::ListEntry::InnerList(list)) = input.get("sig-b26") else {
        panic!("no sig-b26")
    };
    let params = sfv::FieldType::serialize(&sfv::List::from(vec![sfv::ListEntry::InnerList(
        list.clone(),
    )]))
    .unwrap();
    let base = signature_base(&req, &req.uri, list, &params).unwrap();
    assert_eq!(base, v["signature_base"].as_str().unwrap());
    let sig = base64::engine::general_purpose::STANDARD
        .decode("wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==")
        .unwrap();
    let k = key(v["public_key_x"].as_str().unwrap());
    assert!(ed25519_verifies(&k, &base, &sig));
    let mut flipped = sig.clone();
    flipped[10] ^= 1;
    assert!(!ed25519_verifies(&k, &base, &flipped));
    assert!(!ed25519_verifies(&k, &base.replace("POST", "GET"), &sig));
    // Not a Web Bot Auth signature (no tag): the profile does not count it.
    assert!(matches!(
        check(
            &req,
            &req.uri,
            &[agent(
                "rfc",
                "https://example.com",
                &[v["public_key_x"].as_str().unwrap()]
            )],
            1618884473,
            WINDOW,
            None
        ),
        Check::Unsigned
    ));
}

#[test]
fn the_drafts_example_request_verifies_in_its_window_only() {
    let v = &vectors()["webbotauth-example"];
    let req = from_vector(v);
    let x = v["public_key_x"].as_str().unwrap();
    assert_eq!(
        thumbprint(x),
        v["keyid"].as_str().unwrap(),
        "keyid is the RFC 7638 thumbprint"
    );
    let agents = [agent("example", "https://signer.example", &[x])];
    let now = v["now"].as_i64().unwrap();
    assert!(
        matches!(check(&req, &req.uri, &agents, now, WINDOW, None), Check::Verified(a) if a.name == "example")
    );
    assert!(matches!(
        check(&req, &req.uri, &agents, 1735693200 + 31, WINDOW, None),
        Check::Failed(Failure::Expired)
    ));
    assert!(matches!(
        check(&req, &req.uri, &agents, 1735689600 - 31, WINDOW, None),
        Check::Failed(Failure::NotYetValid)
    ));
    let short = Window {
        max_validity_s: 600,
        ..WINDOW
    };
    assert!(matches!(
        check(&req, &req.uri, &agents, now, short, None),
        Check::Failed(Failure::TooLong)
    ));
    let stranger = [agent(
        "other",
        "https://other.example",
        &["11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"],
    )];
    assert!(matches!(
        check(&req, &req.uri, &stranger, now, WINDOW, None),
        Check::Failed(Failure::UnknownKey)
    ));
    // The same request on another host: @authority differs.
    let mut moved = req.clone();
    for h in &mut moved.headers {
        if h.name == "host" {
            h.value = "example.org".into();
        }
    }
    assert!(matches!(
        check(&moved, &moved.uri, &agents, now, WINDOW, None),
        Check::Failed(Failure::BadSignature)
    ));
    // It carries a nonce: a second sight on this instance is a replay.
    let mut nonces = NonceCache::new(100, edge_auth_core::HashKeys::new(1, 2));
    assert!(matches!(
        check(&req, &req.uri, &agents, now, WINDOW, Some(&mut nonces)),
        Check::Verified(_)
    ));
    assert!(matches!(
        check(&req, &req.uri, &agents, now + 5, WINDOW, Some(&mut nonces)),
        Check::Failed(Failure::Replayed)
    ));
}

/// A request the oracle signs and verifies: our `CfRequest` plus what the
/// signer covers.
struct Message {
    req: CfRequest,
    cover: Vec<CoveredComponent>,
}

fn header_component(name: &str) -> CoveredComponent {
    CoveredComponent::HTTP(HTTPField {
        name: name.into(),
        parameters: HTTPFieldParametersSet(vec![]),
    })
}

impl Message {
    fn value(&self, c: &CoveredComponent) -> Vec<String> {
        match c {
            CoveredComponent::HTTP(HTTPField { name, .. }) => self
                .req
                .covered_header_values(name)
                .map(str::to_owned)
                .collect(),
            CoveredComponent::Derived(DerivedComponent::Authority { .. }) => self
                .req
                .covered_header_values("host")
                .next()
                .map(str::to_owned)
                .into_iter()
                .collect(),
            CoveredComponent::Derived(DerivedComponent::Method { .. }) => {
                vec![self.req.method.clone()]
            }
            CoveredComponent::Derived(DerivedComponent::Path { .. }) => vec![self.req.uri.clone()],
            CoveredComponent::Derived(DerivedComponent::Query { .. }) => {
                vec![format!("?{}", self.req.querystring)]
            }
            _ => vec![],
        }
    }
}

impl UnsignedMessage for Message {
    fn fetch_components_to_cover(&self) -> IndexMap<CoveredComponent, String> {
        self.cover
            .iter()
            .map(|c| (c.clone(), self.value(c).join(", ")))
            .collect()
    }
    fn register_header_contents(&mut self, signature_input: String, signature_header: String) {
        for (name, value) in [
            ("signature-input", format!("sig1={signature_input}")),
            ("signature", format!("sig1={signature_header}")),
        ] {
            self.req.headers.push(Header {
                name: name.into(),
                key: None,
                value,
            });
        }
    }
}

impl SignedMessage for Message {
    fn lookup_component(&self, name: &CoveredComponent) -> Vec<String> {
        self.value(name)
    }
}

/// The oracle's verdict: the crate's Web Bot Auth verifier (label, tag,
/// coverage, signature base, Ed25519) with the keys of `ring`, plus the
/// draft's time rule, which the crate leaves to its caller.
fn oracle(m: &Message, ring: &KeyRing, now: i64) -> bool {
    let Ok(v) = web_bot_auth::WebBotAuthVerifier::parse(m) else {
        return false;
    };
    let p = &v.get_parsed_label().base.parameters.details;
    let (Some(created), Some(expires)) = (p.created, p.expires) else {
        return false;
    };
    let in_window = created <= now + WINDOW.leeway_s
        && expires >= now - WINDOW.leeway_s
        && expires - created <= WINDOW.max_validity_s;
    in_window && v.verify(ring, None).is_ok()
}

fn created_of(req: &CfRequest) -> i64 {
    let input = req.header("signature-input").unwrap();
    let at = input.find("created=").unwrap() + 8;
    input[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_web_bot_auth_crate_and_the_edge_agree_on_generated_requests() {
    use ed25519_dalek::SigningKey;
    let hosts = ["example.com", "shop.example.org", "a.b.example.net"];
    let paths = ["/", "/private/report.pdf", "/%70ublic/a%20b", "/search"];
    let agents_urls = ["https://bot.example", "https://crawler.example.net/"];
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for seed in 0u8..24 {
        let signing = SigningKey::from_bytes(&[seed.wrapping_mul(7).wrapping_add(1); 32]);
        let public = signing.verifying_key().to_bytes();
        let x = URL_SAFE_NO_PAD.encode(public);
        let keyid = thumbprint(&x);
        let url = agents_urls[usize::from(seed) % 2];
        let agents = [agent("bot", url, &[&x])];
        let mut ring = KeyRing::default();
        ring.import_raw(keyid.clone(), Algorithm::Ed25519, public.to_vec());
        let host = hosts[usize::from(seed) % hosts.len()];
        let path = paths[usize::from(seed / 3) % paths.len()];
        let query = if seed % 2 == 0 { "" } else { "q=1&r=%2F" };
        for case in [
            "valid",
            "mutated-host",
            "mutated-agent",
            "mutated-signature",
            "mutated-path",
            "expired",
            "wrong-tag",
            "unknown-key",
            "not-covering-agent",
        ] {
            let headers = vec![
                ("host".to_owned(), host.to_owned()),
                ("signature-agent".to_owned(), format!("\"{url}\"")),
            ];
            let mut cover = vec![
                CoveredComponent::Derived(DerivedComponent::Authority { req: false }),
                CoveredComponent::Derived(DerivedComponent::Method { req: false }),
            ];
            if seed % 3 == 0 {
                cover.push(CoveredComponent::Derived(DerivedComponent::Path {
                    req: false,
                }));
            }
            if case != "not-covering-agent" {
                cover.push(header_component("signature-agent"));
            }
            let mut m = Message {
                req: request("GET", path, query, &headers),
                cover,
            };
            let signer = MessageSigner {
                keyid: if case == "unknown-key" {
                    thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
                } else {
                    keyid.clone()
                },
                nonce: format!("nonce-{seed}-{case}"),
                tag: if case == "wrong-tag" {
                    "web-bot-other".into()
                } else {
                    "web-bot-auth".into()
                },
            };
            let validity = if case == "expired" { 60 } else { 300 };
            signer
                .generate_signature_headers_content(
                    &mut m,
                    std::time::Duration::from_secs(validity),
                    Algorithm::Ed25519,
                    &signing.to_bytes(),
                )
                .unwrap();
            let mut now = created_of(&m.req) + 1;
            match case {
                "mutated-host" => set(&mut m.req, "host", "evil.example"),
                "mutated-agent" => set(
                    &mut m.req,
                    "signature-agent",
                    "\"https://bot.example.evil\"",
                ),
                "mutated-signature" => {
                    // One base64 character of the signature changed.
                    let mut bytes = m.req.header("signature").unwrap().as_bytes().to_vec();
                    let at = bytes.iter().position(|&b| b == b':').unwrap() + 5;
                    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
                    set(&mut m.req, "signature", &String::from_utf8(bytes).unwrap());
                }
                "mutated-path" => {
                    m.req.uri = format!("{path}x");
                }
                "expired" => now += 60 + WINDOW.leeway_s + 1,
                _ => {}
            }
            let ours = matches!(
                check(&m.req, &m.req.uri, &agents, now, WINDOW, None),
                Check::Verified(_)
            );
            let theirs = oracle(&m, &ring, now);
            assert_eq!(
                ours,
                theirs,
                "seed {seed}, {case}: edge {:?}, crate {theirs}; headers {:?}",
                check(&m.req, &m.req.uri, &agents, now, WINDOW, None),
                m.req.headers
            );
            let expect = match case {
                "valid" => true,
                // The path is covered only by some signatures.
                "mutated-path" => seed % 3 != 0,
                _ => false,
            };
            assert_eq!(ours, expect, "seed {seed}, {case}");
            let e = counts.entry(case).or_default();
            if ours {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
    }
    // Every case was reached, and both outcomes of the ones that can go both ways.
    assert_eq!(counts["valid"], (24, 0));
    assert!(
        counts["mutated-path"].0 >= 8 && counts["mutated-path"].1 >= 8,
        "{counts:?}"
    );
    for case in [
        "mutated-host",
        "mutated-agent",
        "mutated-signature",
        "expired",
        "wrong-tag",
        "unknown-key",
        "not-covering-agent",
    ] {
        assert_eq!(counts[case], (0, 24), "{case}: {counts:?}");
    }
}

fn set(req: &mut CfRequest, name: &str, value: &str) {
    for h in &mut req.headers {
        if h.name == name {
            h.value = value.into();
        }
    }
}

/// Signs `input` (a `Signature-Input` inner list) for `req` with `key`, as an
/// agent would, using the edge's own signature base (checked against RFC
/// 9421 and the crate above), and adds the headers under label `sig1`.
fn sign_with(key: &ed25519_dalek::SigningKey, mut req: CfRequest, input: &str) -> CfRequest {
    use ed25519_dalek::Signer;
    let base = edge_auth_core::webbotauth::base_for_input(&req, &req.uri, input).unwrap();
    let sig =
        base64::engine::general_purpose::STANDARD.encode(key.sign(base.as_bytes()).to_bytes());
    for (name, value) in [
        ("signature-input", format!("sig1={input}")),
        ("signature", format!("sig1=:{sig}:")),
    ] {
        req.headers.push(Header {
            name: name.into(),
            key: None,
            value,
        });
    }
    req
}

/// The profile's edges, each on a correctly signed request so that only the
/// rule under test can refuse it: coverage, the exact window boundaries,
/// which `Signature-Agent` names which agent (string and dictionary forms),
/// and the component parameters the verifier does not know.
#[test]
fn the_profile_rules_hold_at_their_edges() {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
    let kid = thumbprint(&x);
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let other_x = URL_SAFE_NO_PAD.encode(other.verifying_key().to_bytes());
    let agents = [
        agent("first", "https://first.example", &[&other_x]),
        agent("bot", "https://bot.example", &[&x]),
    ];
    let base = |agent_header: Option<&str>| {
        let mut h = vec![("host".to_owned(), "site.example".to_owned())];
        if let Some(a) = agent_header {
            h.push(("signature-agent".to_owned(), a.to_owned()));
        }
        request("GET", "/p", "", &h)
    };
    let now = 1_800_000_000;
    let w = WINDOW;
    let status = |r: &CfRequest, at: i64| match check(r, &r.uri, &agents, at, w, None) {
        Check::Verified(a) => Ok(a.name.clone()),
        Check::Failed(f) => Err(f),
        Check::Unsigned => Err(Failure::Malformed),
    };
    let params =
        |c: i64, e: i64| format!(";created={c};expires={e};keyid=\"{kid}\";tag=\"web-bot-auth\"");
    // Coverage: @authority or @target-uri, else refused.
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@target-uri\"){}", params(now, now + 60)),
    );
    assert_eq!(
        status(&r, now),
        Ok("bot".into()),
        "@target-uri alone is enough"
    );
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@method\" \"@path\"){}", params(now, now + 60)),
    );
    assert_eq!(status(&r, now), Err(Failure::MissingComponent));
    // The window, at its exact edges (leeway 30 s, at most 3600 s long).
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now + 30, now + 90)),
    );
    assert_eq!(status(&r, now), Ok("bot".into()), "created = now + leeway");
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now + 31, now + 90)),
    );
    assert_eq!(status(&r, now), Err(Failure::NotYetValid));
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now - 100, now - 30)),
    );
    assert_eq!(status(&r, now), Ok("bot".into()), "expires = now - leeway");
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now - 100, now - 31)),
    );
    assert_eq!(status(&r, now), Err(Failure::Expired));
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now - 10, now - 10 + 3600)),
    );
    assert_eq!(
        status(&r, now),
        Ok("bot".into()),
        "exactly the longest validity"
    );
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now - 10, now - 10 + 3601)),
    );
    assert_eq!(status(&r, now), Err(Failure::TooLong));
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now, now)),
    );
    assert_eq!(
        status(&r, now),
        Ok("bot".into()),
        "a zero-length window is a window"
    );
    let r = sign_with(
        &key,
        base(None),
        &format!("(\"@authority\"){}", params(now + 10, now)),
    );
    assert_eq!(
        status(&r, now),
        Err(Failure::TooLong),
        "expires before created"
    );
    // Signature-Agent picks the agent: a string item, or a dictionary member.
    let cover = |c: &str| format!("(\"@authority\" {c}){}", params(now, now + 60));
    let r = sign_with(
        &key,
        base(Some("\"https://bot.example/\"")),
        &cover("\"signature-agent\""),
    );
    assert_eq!(
        status(&r, now),
        Ok("bot".into()),
        "trailing slash and case do not matter"
    );
    let r = sign_with(
        &key,
        base(Some(
            "a=\"https://first.example\", sig1=\"https://bot.example\"",
        )),
        &cover("\"signature-agent\";key=\"sig1\""),
    );
    assert_eq!(
        status(&r, now),
        Ok("bot".into()),
        "the dictionary member the component names"
    );
    let r = sign_with(
        &key,
        base(Some("sig1=\"https://first.example\"")),
        &cover("\"signature-agent\";key=\"sig1\""),
    );
    assert_eq!(
        status(&r, now),
        Err(Failure::UnknownKey),
        "first.example has no such key"
    );
    let r = sign_with(
        &key,
        base(Some("\"https://stranger.example\"")),
        &cover("\"signature-agent\""),
    );
    assert_eq!(status(&r, now), Err(Failure::UnknownAgent));
    let r = sign_with(&key, base(Some("\"https://bot.example\"")), &cover(""));
    assert_eq!(
        status(&r, now),
        Err(Failure::MissingComponent),
        "the header is there, not covered"
    );
    // Component parameters beyond `key` are not derived: refused.
    // (No agent can sign these with our base; a well-formed stand-in
    // signature shows the refusal comes first.)
    for c in [
        "\"signature-agent\";key=\"sig1\";sf",
        "\"signature-agent\";bs",
        "\"@path\";req",
    ] {
        let mut r = if c.ends_with(";bs") {
            base(Some("\"https://bot.example\""))
        } else {
            base(Some("sig1=\"https://bot.example\""))
        };
        let cover = if c.starts_with("\"signature-agent\"") {
            cover(c)
        } else {
            format!(
                "(\"@authority\" \"signature-agent\";key=\"sig1\" {c}){}",
                params(now, now + 60)
            )
        };
        let stand_in = base64::engine::general_purpose::STANDARD.encode([1u8; 64]);
        for (name, value) in [
            ("signature-input", format!("sig1={cover}")),
            ("signature", format!("sig1=:{stand_in}:")),
        ] {
            r.headers.push(Header {
                name: name.into(),
                key: None,
                value,
            });
        }
        assert_eq!(status(&r, now), Err(Failure::Unsupported), "{c}");
    }
    // The names logs use.
    assert_eq!(Failure::Expired.as_str(), "expired");
    assert_eq!(Failure::BadSignature.as_str(), "bad_signature");
    assert_eq!(Failure::Replayed.as_str(), "replayed");
    // Keys: only Ed25519, never private material, and Debug shows no key bytes.
    for (kty, crv) in [("OKP", "X25519"), ("EC", "Ed25519"), ("EC", "P-256")] {
        let jwk = DirectoryJwk {
            kty: kty.into(),
            crv: Some(crv.into()),
            x: Some(x.clone()),
            d: None,
        };
        assert!(AgentKey::from_jwk(&jwk).is_err(), "{kty} {crv}");
    }
    let shown = format!("{:?}", key_of(&x));
    assert!(shown.contains(&kid) && !shown.contains(&x), "{shown}");
}

fn key_of(x: &str) -> AgentKey {
    key(x)
}
