//! The connector's token manager against the simulator's authorization server, over real HTTP:
//! an app that requires DPoP (the connector starts without and switches), the nonce exchange on
//! the token endpoint and on resource requests, two-second tokens refreshed several times, every
//! assertion and proof checked by `fixtures::oauth`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use fixtures::SimClock;
use fixtures::oauth::{AuthServer, OAuthClient, OAuthConfig, ResourceAuth};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use reqwest::{Method, StatusCode};
use url::Url;

use super::super::key::SigningKey;
use super::super::key::tests::test_key;
use super::super::manager::{DpopMode, OAuthOptions, TokenManager};
use super::super::transport::HttpTransport;
use super::super::transport::tests::test_http;
use crate::auth::{AuthRetry, Credential};
use crate::clock::TokioClock;

async fn handle(
    auth: Arc<AuthServer>,
    addr: SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let url = format!(
        "http://{addr}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let answer = if parts.uri.path() == "/oauth2/v1/token" {
        Some(auth.token(&url, &parts.headers, &body))
    } else {
        match auth.authorize_resource(parts.method.as_str(), &url, &parts.headers) {
            ResourceAuth::Granted(_) => None,
            ResourceAuth::Refused(a) => Some(a),
            ResourceAuth::NotOAuth => panic!("the connector sent no OAuth credential"),
        }
    };
    let (status, headers, body) = match answer {
        Some(a) => (a.status, a.headers, a.body.to_string()),
        None => (
            StatusCode::OK,
            reqwest::header::HeaderMap::new(),
            "[]".to_owned(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().extend(headers);
    Ok(resp)
}

async fn serve(auth: Arc<AuthServer>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let auth = Arc::clone(&auth);
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(move |req| handle(Arc::clone(&auth), addr, req));
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, svc)
                    .await;
            });
        }
    });
    addr
}

/// One resource request the way the client sends it: headers from the credential, one more
/// attempt when the credential says so.
async fn get(m: &TokenManager, http: &reqwest::Client, url: &Url) -> StatusCode {
    for attempt in 0..2 {
        let headers = m.authorize(&Method::GET, url).await.unwrap();
        let resp = http.get(url.clone()).headers(headers).send().await.unwrap();
        let status = resp.status();
        if status != StatusCode::UNAUTHORIZED || attempt == 1 {
            return status;
        }
        if m.rejected(status, resp.headers()).await.unwrap() == AuthRetry::No {
            return status;
        }
    }
    unreachable!()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_manager_against_the_simulator_authorization_server() {
    let public = test_key("ec256.pub.pem");
    let mut client =
        OAuthClient::new("0oa-cross", secrecy::ExposeSecret::expose_secret(&public)).unwrap();
    client.dpop = true;
    client.scopes = vec!["okta.users.read".into(), "okta.groups.read".into()];
    let config = OAuthConfig {
        clients: vec![client],
        token_lifetime: Duration::from_secs(2),
        ..OAuthConfig::default()
    };
    let auth = Arc::new(AuthServer::new(
        config,
        Arc::new(SimClock::starting_now(1.0)),
    ));
    let addr = serve(Arc::clone(&auth)).await;
    let org = Url::parse(&format!("http://{addr}")).unwrap();

    let notices = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&notices);
    let opts = OAuthOptions {
        client_id: "0oa-cross".into(),
        key_id: None,
        key: SigningKey::parse(&test_key("ec256.pkcs8.pem")).unwrap(),
        scopes: "okta.users.read okta.groups.read".into(),
        dpop: DpopMode::Auto,
        org: org.clone(),
        extra_origins: Vec::new(),
        notice: Some(Arc::new(move |_: &str| {
            seen.fetch_add(1, Ordering::Relaxed);
        })),
    };
    let unix_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let transport = Arc::new(HttpTransport::new(test_http(), &org));
    let m = Arc::new(TokenManager::new(opts, transport, Arc::new(TokioClock), unix_now).unwrap());

    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..3 {
        let (m, http) = (Arc::clone(&m), test_http());
        let path = if w == 0 {
            "/api/v1/groups"
        } else {
            "/api/v1/users"
        };
        let url = org.join(&format!("{path}?limit=200&after=w{w}")).unwrap();
        workers.push(tokio::spawn(async move {
            let mut ok = 0;
            while started.elapsed() < Duration::from_millis(4500) {
                assert_eq!(get(&m, &http, &url).await, StatusCode::OK, "{url}");
                ok += 1;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            ok
        }));
    }
    let mut requests = 0;
    for w in workers {
        requests += w.await.unwrap();
    }

    let stats = auth.stats();
    assert!(requests > 50, "{requests}");
    assert!(
        m.tokens_fetched() >= 3,
        "two-second tokens refreshed: {}",
        m.tokens_fetched()
    );
    assert_eq!(stats.tokens_issued, m.tokens_fetched());
    assert_eq!(
        notices.load(Ordering::Relaxed),
        1,
        "the DPoP switch is told once"
    );
    assert!(m.describe().ends_with(", DPoP"));
    assert!(
        stats.nonces_demanded >= 2,
        "token and resource nonces: {stats:?}"
    );
    // Every refused proof was a nonce demand: no signature, claim, ath or jti failure.
    assert_eq!(stats.proofs_refused, stats.nonces_demanded, "{stats:?}");
    assert!(stats.proofs_checked as usize >= requests, "{stats:?}");
    // Refused token requests: the first (no proof: the app requires DPoP) and its first
    // proof (no nonce yet); later refreshes reuse the nonce.
    assert_eq!(stats.token_requests_refused, 2, "{stats:?}");
    assert_eq!(
        m.granted_scopes().await.as_deref(),
        Some("okta.users.read okta.groups.read")
    );
}
