//! The two JWTs this credential signs: the client assertion (RFC 7523 §3, Okta's
//! `private_key_jwt`) and DPoP proofs (RFC 9449 §4.2). Both are compact JWS, returned as secrets.

use connector_api::Result;
use reqwest::Method;
use ring::digest;
use ring::rand::{SecureRandom as _, SystemRandom};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use url::Url;

use super::key::{SigningKey, b64};

/// How long a client assertion is valid (Okta accepts at most one hour; five minutes is ample).
pub(crate) const ASSERTION_LIFETIME_S: i64 = 300;

/// `header.claims.signature`, each part base64url.
fn compact(key: &SigningKey, header: &Value, claims: &Value) -> Result<SecretString> {
    let mut jws = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = key.sign(jws.as_bytes())?;
    jws.push('.');
    jws.push_str(&b64(signature));
    Ok(SecretString::from(jws))
}

/// A fresh, unguessable JWT id (128 random bits).
pub(crate) fn jti() -> String {
    let mut bytes = [0u8; 16];
    // SystemRandom only fails when the OS has no entropy source; fall back to fastrand then.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        bytes = fastrand::u128(..).to_be_bytes();
    }
    b64(bytes)
}

/// The client assertion: `iss` = `sub` = the client id, `aud` = the token endpoint URL exactly,
/// `iat` = `now`, `exp` = `now` + 5 min, a fresh `jti`; `kid` in the header when configured.
pub(crate) fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    key_id: Option<&str>,
    token_url: &Url,
    now: i64,
) -> Result<SecretString> {
    let mut header = json!({ "alg": key.alg().name(), "typ": "JWT" });
    if let Some(kid) = key_id {
        header["kid"] = json!(kid);
    }
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_url.as_str(),
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_S,
        "jti": jti(),
    });
    compact(key, &header, &claims)
}

/// The `htu` of a request: its URL without query and fragment.
pub(crate) fn htu(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.into()
}

/// `ath`: base64url(SHA-256(access token)).
pub(crate) fn ath(access_token: &SecretString) -> String {
    b64(digest::digest(
        &digest::SHA256,
        access_token.expose_secret().as_bytes(),
    ))
}

/// A DPoP proof for one attempt of `method url`: header `typ: dpop+jwt`, `alg`, the public
/// `jwk`; claims `htm`, `htu`, `iat`, a fresh `jti`, `nonce` when the server gave one and `ath`
/// when an access token goes with the request.
pub(crate) fn dpop_proof(
    key: &SigningKey,
    method: &Method,
    url: &Url,
    now: i64,
    nonce: Option<&str>,
    access_token: Option<&SecretString>,
) -> Result<SecretString> {
    let header = json!({ "typ": "dpop+jwt", "alg": key.alg().name(), "jwk": key.public_jwk() });
    let mut claims = json!({ "htm": method.as_str(), "htu": htu(url), "iat": now, "jti": jti() });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(token) = access_token {
        claims["ath"] = json!(ath(token));
    }
    compact(key, &header, &claims)
}

#[cfg(test)]
pub(crate) mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ring::signature;

    use super::*;
    use crate::auth::oauth::key::tests::test_key;

    /// Splits a compact JWS, checks its signature against `jwk` and returns header and claims.
    pub(crate) fn decode_verified(jws: &SecretString, jwk: &Value) -> (Value, Value) {
        let parts: Vec<&str> = jws.expose_secret().split('.').collect();
        assert_eq!(parts.len(), 3, "compact JWS");
        let part = |i: usize| {
            URL_SAFE_NO_PAD
                .decode(parts[i])
                .expect("base64url, no padding")
        };
        let header: Value = serde_json::from_slice(&part(0)).unwrap();
        let claims: Value = serde_json::from_slice(&part(1)).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        let m = |n: &str| URL_SAFE_NO_PAD.decode(jwk[n].as_str().unwrap()).unwrap();
        match header["alg"].as_str().unwrap() {
            "RS256" => signature::RsaPublicKeyComponents {
                n: m("n"),
                e: m("e"),
            }
            .verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                input.as_bytes(),
                &part(2),
            )
            .expect("RS256 signature"),
            "ES256" => {
                let point = [vec![4], m("x"), m("y")].concat();
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input.as_bytes(), &part(2))
                    .expect("ES256 signature");
            }
            other => panic!("unexpected alg {other}"),
        }
        (header, claims)
    }

    const NOW: i64 = 1_795_428_000;

    #[test]
    fn client_assertion_carries_every_claim_and_verifies() {
        let url = Url::parse("https://acme.okta.com/oauth2/v1/token").unwrap();
        for (file, alg) in [("rsa2048.pkcs1.pem", "RS256"), ("ec256.pkcs8.pem", "ES256")] {
            let key = SigningKey::parse(&test_key(file)).unwrap();
            let a = client_assertion(&key, "0oa1", Some("kid-2026-12"), &url, NOW).unwrap();
            let (h, c) = decode_verified(&a, key.public_jwk());
            assert_eq!(h, json!({ "alg": alg, "typ": "JWT", "kid": "kid-2026-12" }));
            assert_eq!(c["iss"], "0oa1");
            assert_eq!(c["sub"], "0oa1");
            assert_eq!(c["aud"], "https://acme.okta.com/oauth2/v1/token");
            assert_eq!(c["iat"], NOW);
            assert_eq!(c["exp"], NOW + 300);
            assert_eq!(c["jti"].as_str().unwrap().len(), 22, "128 bits, base64url");
            assert_eq!(c.as_object().unwrap().len(), 6, "{c}");
            let b = client_assertion(&key, "0oa1", None, &url, NOW).unwrap();
            let (h2, c2) = decode_verified(&b, key.public_jwk());
            assert!(h2.get("kid").is_none());
            assert_ne!(c["jti"], c2["jti"], "fresh jti per assertion");
        }
    }

    #[test]
    fn dpop_proof_carries_every_claim_and_verifies() {
        let key = SigningKey::parse(&test_key("ec256.private.jwk.json")).unwrap();
        let url = Url::parse("https://acme.okta.com/api/v1/users?limit=200&after=x#frag").unwrap();
        let token = SecretString::from("eyJ.access.token");
        let p = dpop_proof(&key, &Method::GET, &url, NOW, Some("n-1"), Some(&token)).unwrap();
        let (h, c) = decode_verified(&p, key.public_jwk());
        assert_eq!(h["typ"], "dpop+jwt");
        assert_eq!(h["alg"], "ES256");
        assert_eq!(&h["jwk"], key.public_jwk());
        assert!(h["jwk"].get("d").is_none(), "public part only");
        assert_eq!(c["htm"], "GET");
        assert_eq!(c["htu"], "https://acme.okta.com/api/v1/users");
        assert_eq!(c["iat"], NOW);
        assert_eq!(c["nonce"], "n-1");
        // base64url(SHA-256("eyJ.access.token")), computed with Python's hashlib.
        assert_eq!(c["ath"], "FuAfQCX7OqYWhEBrvFuMgiTtRfqtcZcWCTZG_02lX1w");
        assert_eq!(c.as_object().unwrap().len(), 6, "{c}");

        let rsa = SigningKey::parse(&test_key("rsa2048.pkcs8.pem")).unwrap();
        let token_url = Url::parse("https://acme.okta.com/oauth2/v1/token").unwrap();
        let q = dpop_proof(&rsa, &Method::POST, &token_url, NOW, None, None).unwrap();
        let (h, c2) = decode_verified(&q, rsa.public_jwk());
        assert_eq!(h["alg"], "RS256");
        assert_eq!(c2["htm"], "POST");
        assert!(c2.get("nonce").is_none() && c2.get("ath").is_none(), "{c2}");
        assert_ne!(c["jti"], c2["jti"]);
    }

    #[test]
    fn ath_matches_the_rfc_9449_example() {
        // RFC 9449 §7.1: the access token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" has
        // ath "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo".
        let token = SecretString::from("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU");
        assert_eq!(ath(&token), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
    }
}
