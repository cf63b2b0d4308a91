//! Token-manager tests against a scripted token endpoint and a manual clock, the secret canary,
//! and the cross-check against the simulator's authorization server (`cross_check.rs`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use connector_api::{ErrorKind, Result};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::jwt::tests::decode_verified;
use super::key::SigningKey;
use super::key::tests::test_key;
use super::manager::{DpopMode, OAuthOptions, TokenManager};
use super::transport::{TokenReply, TokenTransport};
use crate::auth::{AuthRetry, Credential};
use crate::clock::ManualClock;

#[path = "tests/cross_check.rs"]
mod cross_check;

const NOW: i64 = 1_795_428_000;
const CANARY_TOKEN: &str = "canary-access-token-7f3a";

/// One request the scripted endpoint saw: the form fields and the DPoP proof.
#[derive(Debug, Clone)]
struct Seen {
    form: Vec<(String, String)>,
    proof: Option<String>,
}

impl Seen {
    fn field(&self, name: &str) -> &str {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap()
    }
}

/// A scripted answer: status, headers, body.
type Reply = (u16, Vec<(&'static str, &'static str)>, String);

/// A token endpoint answering from a script; when the script runs out it issues tokens.
#[derive(Debug, Default)]
struct Scripted {
    replies: Mutex<VecDeque<Reply>>,
    seen: Mutex<Vec<Seen>>,
    token_type: Mutex<&'static str>,
}

impl Scripted {
    fn new(token_type: &'static str) -> Arc<Self> {
        let s = Scripted::default();
        *s.token_type.lock().unwrap() = token_type;
        Arc::new(s)
    }
    fn then(&self, status: u16, headers: Vec<(&'static str, &'static str)>, body: Value) {
        self.replies
            .lock()
            .unwrap()
            .push_back((status, headers, body.to_string()));
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

#[async_trait]
impl TokenTransport for Scripted {
    async fn post_form(
        &self,
        url: &Url,
        form: &SecretString,
        proof: Option<&SecretString>,
    ) -> Result<TokenReply> {
        assert_eq!(url.as_str(), "https://acme.okta.com/oauth2/v1/token");
        let form = url::form_urlencoded::parse(form.expose_secret().as_bytes())
            .into_owned()
            .collect();
        let n = {
            let mut seen = self.seen.lock().unwrap();
            seen.push(Seen {
                form,
                proof: proof.map(|p| p.expose_secret().to_owned()),
            });
            seen.len()
        };
        let next = self.replies.lock().unwrap().pop_front();
        let (status, hdrs, body) = next.unwrap_or_else(|| {
            let tt = *self.token_type.lock().unwrap();
            let body = json!({ "access_token": format!("{CANARY_TOKEN}-{n}"), "token_type": tt, "expires_in": 3600, "scope": "okta.users.read" });
            (200, vec![], body.to_string())
        });
        let mut headers = HeaderMap::new();
        for (k, v) in hdrs {
            headers.insert(k, HeaderValue::from_static(v));
        }
        Ok(TokenReply {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::from(body),
        })
    }
}

fn manager(
    key: &str,
    dpop: DpopMode,
    transport: Arc<Scripted>,
) -> (TokenManager, Arc<ManualClock>, Arc<Mutex<Vec<String>>>) {
    let clock = Arc::new(ManualClock::new());
    let notices = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let opts = OAuthOptions {
        client_id: "0oa-test".into(),
        key_id: Some("kid-1".into()),
        key: SigningKey::parse(&test_key(key)).unwrap(),
        scopes: "okta.users.read okta.groups.read".into(),
        dpop,
        org: Url::parse("https://acme.okta.com").unwrap(),
        extra_origins: vec![Url::parse("https://acme-admin.okta.com").unwrap()],
        notice: Some(Arc::new(move |m: &str| {
            sink.lock().unwrap().push(m.to_owned())
        })),
    };
    let m = TokenManager::new(opts, transport, clock.clone(), NOW).unwrap();
    (m, clock, notices)
}

fn public_jwk(key: &str) -> Value {
    SigningKey::parse(&test_key(key))
        .unwrap()
        .public_jwk()
        .clone()
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).unwrap().to_str().unwrap()
}

fn users_url() -> Url {
    Url::parse("https://acme.okta.com/api/v1/users?limit=200").unwrap()
}

#[tokio::test]
async fn bearer_token_is_fetched_once_for_concurrent_requests() {
    let t = Scripted::new("Bearer");
    let (m, _, _) = manager("rsa2048.pkcs8.pem", DpopMode::Never, t.clone());
    let m = Arc::new(m);
    let calls = (0..16).map(|_| {
        let m = Arc::clone(&m);
        tokio::spawn(async move { m.authorize(&Method::GET, &users_url()).await.unwrap() })
    });
    for h in futures::future::join_all(calls).await {
        let h = h.unwrap();
        assert_eq!(
            header(&h, "authorization"),
            format!("Bearer {CANARY_TOKEN}-1")
        );
        assert!(h.get("authorization").unwrap().is_sensitive());
        assert!(h.get("dpop").is_none());
    }
    assert_eq!(m.tokens_fetched(), 1, "single flight");
    let seen = t.seen();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].proof.is_none());
    assert_eq!(seen[0].field("grant_type"), "client_credentials");
    assert_eq!(seen[0].field("scope"), "okta.users.read okta.groups.read");
    assert_eq!(
        seen[0].field("client_assertion_type"),
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let assertion = SecretString::from(seen[0].field("client_assertion").to_owned());
    let (h, c) = decode_verified(&assertion, &public_jwk("rsa2048.pkcs8.pem"));
    assert_eq!(
        (h["alg"].as_str(), h["kid"].as_str()),
        (Some("RS256"), Some("kid-1"))
    );
    assert_eq!(
        (c["iss"].as_str(), c["sub"].as_str()),
        (Some("0oa-test"), Some("0oa-test"))
    );
    assert_eq!(c["aud"], "https://acme.okta.com/oauth2/v1/token");
    assert_eq!(
        (c["iat"].as_i64(), c["exp"].as_i64()),
        (Some(NOW), Some(NOW + 300))
    );
    assert_eq!(m.granted_scopes().await.as_deref(), Some("okta.users.read"));
    assert_eq!(m.describe(), "OAuth 2.0 service app 0oa-test, Bearer");
}

#[tokio::test]
async fn refreshes_sixty_seconds_before_expiry_with_fresh_assertions() {
    let t = Scripted::new("Bearer");
    let (m, clock, _) = manager("ec256.pkcs8.pem", DpopMode::Never, t.clone());
    m.authorize(&Method::GET, &users_url()).await.unwrap();
    clock.advance(Duration::from_secs(3600 - 61));
    let h = m.authorize(&Method::GET, &users_url()).await.unwrap();
    assert_eq!(
        header(&h, "authorization"),
        format!("Bearer {CANARY_TOKEN}-1")
    );
    clock.advance(Duration::from_secs(2));
    let h = m.authorize(&Method::GET, &users_url()).await.unwrap();
    assert_eq!(
        header(&h, "authorization"),
        format!("Bearer {CANARY_TOKEN}-2")
    );
    let seen = t.seen();
    let jwk = public_jwk("ec256.pkcs8.pem");
    let claims: Vec<Value> = seen
        .iter()
        .map(|s| {
            decode_verified(
                &SecretString::from(s.field("client_assertion").to_owned()),
                &jwk,
            )
            .1
        })
        .collect();
    assert_eq!(
        claims[1]["iat"],
        NOW + 3600 - 61 + 2,
        "iat follows the clock"
    );
    assert_ne!(claims[0]["jti"], claims[1]["jti"], "fresh jti");
}

#[tokio::test]
async fn invalid_token_refreshes_once_for_a_burst_of_rejections() {
    let t = Scripted::new("Bearer");
    let (m, clock, _) = manager("ec256.pkcs8.pem", DpopMode::Never, t.clone());
    m.authorize(&Method::GET, &users_url()).await.unwrap();
    clock.advance(Duration::from_secs(600));
    let mut h = HeaderMap::new();
    h.insert("www-authenticate", HeaderValue::from_static(r#"Bearer authorization_uri="https://acme.okta.com/oauth2/v1/authorize", realm="IdP", scope="okta.users.read", error="invalid_token", error_description="The token has expired.""#));
    assert_eq!(
        m.rejected(StatusCode::UNAUTHORIZED, &h).await.unwrap(),
        AuthRetry::Once
    );
    let a = m.authorize(&Method::GET, &users_url()).await.unwrap();
    assert_eq!(
        header(&a, "authorization"),
        format!("Bearer {CANARY_TOKEN}-2")
    );
    // The rest of the burst (sent with the old token) arrives right after the refresh.
    assert_eq!(
        m.rejected(StatusCode::UNAUTHORIZED, &h).await.unwrap(),
        AuthRetry::Once
    );
    m.authorize(&Method::GET, &users_url()).await.unwrap();
    assert_eq!(m.tokens_fetched(), 2);
    // Other answers are not this credential's to fix.
    assert_eq!(
        m.rejected(StatusCode::FORBIDDEN, &h).await.unwrap(),
        AuthRetry::No
    );
    assert_eq!(
        m.rejected(StatusCode::UNAUTHORIZED, &HeaderMap::new())
            .await
            .unwrap(),
        AuthRetry::No
    );
}

#[tokio::test]
async fn dpop_token_exchange_retries_with_the_nonce_and_binds_resource_requests() {
    let t = Scripted::new("DPoP");
    t.then(400, vec![("dpop-nonce", "n-token-1")], json!({"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof."}));
    let (m, _, notices) = manager("ec256.private.jwk.json", DpopMode::Always, t.clone());
    let url = users_url();
    let h = m.authorize(&Method::GET, &url).await.unwrap();
    let jwk = public_jwk("ec256.pkcs8.pem");
    let seen = t.seen();
    assert_eq!(seen.len(), 2);
    let p1 = decode_verified(&SecretString::from(seen[0].proof.clone().unwrap()), &jwk);
    let p2 = decode_verified(&SecretString::from(seen[1].proof.clone().unwrap()), &jwk);
    assert_eq!(p1.0["typ"], "dpop+jwt");
    assert_eq!(p1.0["jwk"], jwk);
    assert_eq!(
        (p1.1["htm"].as_str(), p1.1["htu"].as_str()),
        (Some("POST"), Some("https://acme.okta.com/oauth2/v1/token"))
    );
    assert!(p1.1.get("nonce").is_none() && p1.1.get("ath").is_none());
    assert_eq!(p2.1["nonce"], "n-token-1");
    assert_ne!(p1.1["jti"], p2.1["jti"]);
    assert_ne!(
        seen[0].field("client_assertion"),
        seen[1].field("client_assertion")
    );

    let token = format!("{CANARY_TOKEN}-2");
    assert_eq!(header(&h, "authorization"), format!("DPoP {token}"));
    assert!(h.get("dpop").unwrap().is_sensitive());
    let (_, c) = decode_verified(&SecretString::from(header(&h, "dpop").to_owned()), &jwk);
    assert_eq!(
        (c["htm"].as_str(), c["htu"].as_str()),
        (Some("GET"), Some("https://acme.okta.com/api/v1/users"))
    );
    assert_eq!(
        c["ath"],
        super::jwt::ath(&SecretString::from(token)).as_str()
    );
    assert!(
        c.get("nonce").is_none(),
        "the token endpoint's nonce is not the resource server's"
    );

    // The resource server asks for its own nonce; the latest one is kept.
    for nonce in ["n-res-1", "n-res-2"] {
        let mut r = HeaderMap::new();
        r.insert("www-authenticate", HeaderValue::from_static(r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#));
        r.insert("dpop-nonce", HeaderValue::from_static(nonce));
        assert_eq!(
            m.rejected(StatusCode::UNAUTHORIZED, &r).await.unwrap(),
            AuthRetry::Once
        );
    }
    let h = m.authorize(&Method::GET, &url).await.unwrap();
    let (_, c) = decode_verified(&SecretString::from(header(&h, "dpop").to_owned()), &jwk);
    assert_eq!(c["nonce"], "n-res-2");
    assert_eq!(m.tokens_fetched(), 1);
    assert!(
        notices.lock().unwrap().is_empty(),
        "no switch when Dpop is true"
    );
    assert_eq!(m.describe(), "OAuth 2.0 service app 0oa-test, DPoP");
}

#[tokio::test]
async fn absent_dpop_switches_on_when_required_and_says_so_once() {
    let t = Scripted::new("DPoP");
    t.then(
        400,
        vec![],
        json!({"error":"invalid_dpop_proof","error_description":"DPoP proof is required."}),
    );
    t.then(
        400,
        vec![("dpop-nonce", "n-1")],
        json!({"error":"use_dpop_nonce"}),
    );
    let (m, clock, notices) = manager("rsa2048.pkcs1.pem", DpopMode::Auto, t.clone());
    assert_eq!(
        m.describe(),
        "OAuth 2.0 service app 0oa-test, Bearer, DPoP when required"
    );
    let h = m.authorize(&Method::GET, &users_url()).await.unwrap();
    assert!(header(&h, "authorization").starts_with("DPoP "));
    let seen = t.seen();
    assert_eq!(
        seen.iter().map(|s| s.proof.is_some()).collect::<Vec<_>>(),
        [false, true, true]
    );
    clock.advance(Duration::from_secs(3600));
    m.authorize(&Method::GET, &users_url()).await.unwrap();
    let last = t.seen().pop().unwrap();
    let (_, c) = decode_verified(
        &SecretString::from(last.proof.unwrap()),
        &public_jwk("rsa2048.pkcs8.pem"),
    );
    assert_eq!(
        c["nonce"], "n-1",
        "the token endpoint's latest nonce is reused"
    );
    let notices = notices.lock().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(notices[0].contains("requires DPoP"));
}

#[tokio::test]
async fn dpop_false_turns_the_requirement_into_a_configuration_error() {
    let t = Scripted::new("DPoP");
    t.then(
        400,
        vec![],
        json!({"error":"invalid_dpop_proof","error_description":"DPoP proof is required."}),
    );
    let (m, _, _) = manager("rsa2048.pkcs8.pem", DpopMode::Never, t.clone());
    let err = m.authorize(&Method::GET, &users_url()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfig);
    assert!(
        err.remediation()
            .unwrap()
            .contains("remove \"Dpop\": false"),
        "{err}"
    );
    assert_eq!(t.seen().len(), 1, "no proof sent");
}

#[tokio::test]
async fn token_endpoint_refusals_are_classified_without_secrets() {
    for (status, body, kind) in [
        (
            401,
            json!({"error":"invalid_client","error_description":"The client_assertion token has an invalid signature."}),
            ErrorKind::Unauthenticated,
        ),
        (
            400,
            json!({"error":"invalid_scope","error_description":"The following scopes are not allowed: okta.groups.read"}),
            ErrorKind::PermissionDenied,
        ),
        (
            400,
            json!({"error":"unauthorized_client"}),
            ErrorKind::PermissionDenied,
        ),
        (400, json!({"error":"use_dpop_nonce"}), ErrorKind::Protocol),
        (403, json!({}), ErrorKind::PermissionDenied),
    ] {
        let t = Scripted::new("DPoP");
        t.then(status, vec![("dpop-nonce", "n")], body.clone());
        t.then(status, vec![("dpop-nonce", "n")], body.clone());
        let (m, _, _) = manager("ec256.pkcs8.pem", DpopMode::Always, t.clone());
        let err = m.authorize(&Method::GET, &users_url()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{body}: {err}");
        let shown = format!("{err} {err:?}");
        for s in t.seen() {
            assert!(
                !shown.contains(s.field("client_assertion")),
                "assertion leaked: {shown}"
            );
            assert!(!shown.contains(&s.proof.unwrap()), "proof leaked: {shown}");
        }
    }
}

#[tokio::test]
async fn refuses_to_authorize_a_request_to_another_origin() {
    let t = Scripted::new("Bearer");
    let (m, _, _) = manager("ec256.pkcs8.pem", DpopMode::Never, t.clone());
    let admin = Url::parse("https://acme-admin.okta.com/governance/api/v1/campaigns").unwrap();
    assert!(
        m.authorize(&Method::GET, &admin).await.is_ok(),
        "the -admin host is configured"
    );
    let evil = Url::parse("https://evil.example/api/v1/users").unwrap();
    let err = m.authorize(&Method::GET, &evil).await.unwrap_err();
    assert!(
        err.message()
            .contains("refusing to send credentials to https://evil.example"),
        "{err}"
    );
}

#[tokio::test]
async fn canary_secrets_never_show_in_debug_or_errors() {
    let t = Scripted::new("DPoP");
    let (m, _, _) = manager("ec256.private.jwk.json", DpopMode::Always, t.clone());
    let h = m.authorize(&Method::GET, &users_url()).await.unwrap();
    let key_text = test_key("ec256.private.jwk.json");
    let d: Value = serde_json::from_str(key_text.expose_secret()).unwrap();
    let secrets = [
        format!("{CANARY_TOKEN}-1"),
        d["d"].as_str().unwrap().to_owned(),
        header(&h, "dpop").to_owned(),
        t.seen()[0].field("client_assertion").to_owned(),
        t.seen()[0].proof.clone().unwrap(),
    ];
    let evil = Url::parse("https://evil.example/").unwrap();
    let err = m.authorize(&Method::GET, &evil).await.unwrap_err();
    let key = SigningKey::parse(&key_text).unwrap();
    let shown = format!(
        "{m:?} {h:?} {err} {err:?} {key:?} {key_text:?} {}",
        m.describe()
    );
    for s in &secrets {
        assert!(!shown.contains(s.as_str()), "a secret shows in {shown}");
    }
    assert!(
        shown.contains("0oa-test") && shown.contains("Sensitive"),
        "{shown}"
    );
}
