//! The app's private key: a PEM (PKCS#8 RSA or EC P-256, PKCS#1 RSA) or a private JWK, read into
//! a `ring` key pair. The algorithm follows the key: RS256 for RSA (2048 bits or more), ES256
//! for P-256. Every refusal is `invalid_config` naming `PrivateKey` and the problem, never the
//! key material.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connector_api::{ConnectorError, Result};
use ring::rand::SystemRandom;
use ring::rsa::{KeyPairComponents, PublicKeyComponents};
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use rustls_pki_types::pem::SectionKind;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// The config key every refusal names.
const FIELD: &str = "PrivateKey";

/// A JWS signature algorithm this connector signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256 (fixed-size `r‖s` signatures).
    Es256,
}

impl Alg {
    /// The JOSE `alg` name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::Es256 => "ES256",
        }
    }
}

enum Pair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private signing key with its public JWK. `Debug` shows the algorithm only.
pub(crate) struct SigningKey {
    pair: Pair,
    public_jwk: Value,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg().name())
            .finish_non_exhaustive()
    }
}

fn refuse(problem: impl fmt::Display) -> ConnectorError {
    ConnectorError::invalid_config(format!("{FIELD}: {problem}")).with_remediation(
        "store the app's private key as an unencrypted PEM (PKCS#8 RSA of at least 2048 bits \
         or EC P-256, or PKCS#1 RSA) or as the private JWK the Okta Admin Console offers",
    )
}

impl SigningKey {
    /// Reads a PEM block or a JWK JSON object.
    pub(crate) fn parse(value: &SecretString) -> Result<Self> {
        let text = value.expose_secret().trim();
        if text.starts_with('{') {
            Self::from_jwk(text)
        } else if text.contains("-----BEGIN") {
            Self::from_pem(text)
        } else {
            Err(refuse(
                "is neither a PEM block (-----BEGIN PRIVATE KEY-----) nor a JWK JSON object",
            ))
        }
    }

    /// The algorithm this key signs with.
    pub(crate) fn alg(&self) -> Alg {
        match self.pair {
            Pair::Rsa(_) => Alg::Rs256,
            Pair::Ec(_) => Alg::Es256,
        }
    }

    /// The public part as a JWK (members in lexicographic order, as RFC 7638 hashes them).
    pub(crate) fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `message` (a JWS signing input) with the key's algorithm.
    pub(crate) fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let failed = |_| ConnectorError::internal("signing a JWT with the PrivateKey failed");
        match &self.pair {
            Pair::Rsa(kp) => {
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &self.rng, message, &mut sig)
                    .map_err(failed)?;
                Ok(sig)
            }
            Pair::Ec(kp) => Ok(kp
                .sign(&self.rng, message)
                .map_err(failed)?
                .as_ref()
                .to_vec()),
        }
    }

    fn from_pair(pair: Pair) -> Self {
        let public_jwk = match &pair {
            Pair::Rsa(kp) => {
                let c = PublicKeyComponents::<Vec<u8>>::from(kp.public());
                json!({ "e": b64(&c.e), "kty": "RSA", "n": b64(&c.n) })
            }
            Pair::Ec(kp) => {
                let point = kp.public_key().as_ref();
                json!({ "crv": "P-256", "kty": "EC", "x": b64(&point[1..33]), "y": b64(&point[33..65]) })
            }
        };
        SigningKey {
            pair,
            public_jwk,
            rng: SystemRandom::new(),
        }
    }

    fn from_pem(text: &str) -> Result<Self> {
        if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(refuse(
                "is an encrypted PEM; store it decrypted (openssl pkcs8 -topk8 -nocrypt), the \
                 secret store protects it",
            ));
        }
        let section = rustls_pki_types::pem::from_buf(&mut text.as_bytes())
            .map_err(|_| refuse("is not valid PEM (bad base64 or a broken BEGIN/END frame)"))?;
        let Some((kind, der)) = section else {
            return Err(refuse("holds no PEM block this connector can read"));
        };
        let der = Zeroizing::new(der);
        match kind {
            SectionKind::PrivateKey => Self::from_pkcs8(&der),
            SectionKind::RsaPrivateKey => RsaKeyPair::from_der(&der)
                .map(|kp| Self::from_pair(Pair::Rsa(kp)))
                .map_err(|e| rsa_refusal(&e)),
            SectionKind::EcPrivateKey => Err(refuse(
                "is a SEC1 EC key (BEGIN EC PRIVATE KEY); convert it to PKCS#8 with \
                 openssl pkcs8 -topk8 -nocrypt",
            )),
            SectionKind::PublicKey | SectionKind::Certificate => Err(refuse(
                "is a public key or certificate; the private key is needed (Okta keeps the public one)",
            )),
            _ => Err(refuse("holds a PEM block that is not a private key")),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self> {
        match RsaKeyPair::from_pkcs8(der) {
            Ok(kp) => return Ok(Self::from_pair(Pair::Rsa(kp))),
            Err(e) if e.to_string() != "WrongAlgorithm" => return Err(rsa_refusal(&e)),
            Err(_) => {}
        }
        let rng = SystemRandom::new();
        let p256 = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        match EcdsaKeyPair::from_pkcs8(p256, der, &rng) {
            Ok(kp) => Ok(Self::from_pair(Pair::Ec(kp))),
            Err(_)
                if EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    der,
                    &rng,
                )
                .is_ok() =>
            {
                Err(refuse(
                    "is an EC key on curve P-384; only P-256 (ES256) is supported",
                ))
            }
            Err(_) => Err(refuse(
                "is a PKCS#8 key of an unsupported type; use RSA (2048 bits or more) or EC P-256",
            )),
        }
    }

    fn from_jwk(text: &str) -> Result<Self> {
        let jwk: Jwk = serde_json::from_str(text)
            .map_err(|_| refuse("looks like JSON but is not a JWK object with a \"kty\" member"))?;
        match jwk.kty.as_str() {
            "RSA" => jwk.rsa(),
            "EC" => jwk.ec(),
            other => Err(refuse(format_args!(
                "is a JWK of kty {other:?}; use an RSA or EC P-256 key"
            ))),
        }
    }
}

fn rsa_refusal(e: &ring::error::KeyRejected) -> ConnectorError {
    match e.to_string().as_str() {
        "TooSmall" => refuse("is an RSA key shorter than 2048 bits; Okta requires at least 2048"),
        "TooLarge" => refuse("is an RSA key longer than 8192 bits"),
        _ => refuse("is not a valid RSA private key"),
    }
}

/// A JWK as the Okta Admin Console exports it; private members stay secret.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<SecretString>,
    p: Option<SecretString>,
    q: Option<SecretString>,
    dp: Option<SecretString>,
    dq: Option<SecretString>,
    qi: Option<SecretString>,
}

fn public_member(v: Option<&String>, name: &str) -> Result<Vec<u8>> {
    let v = v.ok_or_else(|| refuse(format_args!("is a JWK without its \"{name}\" member")))?;
    URL_SAFE_NO_PAD
        .decode(v)
        .map_err(|_| refuse(format_args!("is a JWK whose \"{name}\" is not base64url")))
}

fn private_member(v: Option<&SecretString>, name: &str) -> Result<Zeroizing<Vec<u8>>> {
    let v = v.ok_or_else(|| {
        refuse(format_args!(
            "is a JWK without its private part (\"{name}\"); export the private key, not the public one"
        ))
    })?;
    URL_SAFE_NO_PAD
        .decode(v.expose_secret())
        .map(Zeroizing::new)
        .map_err(|_| refuse(format_args!("is a JWK whose \"{name}\" is not base64url")))
}

impl Jwk {
    fn rsa(&self) -> Result<SigningKey> {
        let n = public_member(self.n.as_ref(), "n")?;
        let e = public_member(self.e.as_ref(), "e")?;
        let d = private_member(self.d.as_ref(), "d")?;
        let crt = |v: Option<&SecretString>, name| {
            private_member(v, name).map_err(|_| {
                refuse("is an RSA JWK without its CRT members (p, q, dp, dq, qi); export the full private JWK")
            })
        };
        let (p, q) = (crt(self.p.as_ref(), "p")?, crt(self.q.as_ref(), "q")?);
        let (dp, dq, qi) = (
            crt(self.dp.as_ref(), "dp")?,
            crt(self.dq.as_ref(), "dq")?,
            crt(self.qi.as_ref(), "qi")?,
        );
        let components = KeyPairComponents {
            public_key: PublicKeyComponents {
                n: &n[..],
                e: &e[..],
            },
            d: &d[..],
            p: &p[..],
            q: &q[..],
            dP: &dp[..],
            dQ: &dq[..],
            qInv: &qi[..],
        };
        RsaKeyPair::from_components(&components)
            .map(|kp| SigningKey::from_pair(Pair::Rsa(kp)))
            .map_err(|e| rsa_refusal(&e))
    }

    fn ec(&self) -> Result<SigningKey> {
        match self.crv.as_deref() {
            Some("P-256") => {}
            Some(other) => {
                return Err(refuse(format_args!(
                    "is an EC JWK on curve {other:?}; only P-256 (ES256) is supported"
                )));
            }
            None => return Err(refuse("is an EC JWK without \"crv\"")),
        }
        let (x, y) = (
            public_member(self.x.as_ref(), "x")?,
            public_member(self.y.as_ref(), "y")?,
        );
        let d = private_member(self.d.as_ref(), "d")?;
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        EcdsaKeyPair::from_private_key_and_public_key(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &d,
            &point,
            &SystemRandom::new(),
        )
        .map(|kp| SigningKey::from_pair(Pair::Ec(kp)))
        .map_err(|_| refuse("is an EC JWK whose d, x and y do not form a valid P-256 key pair"))
    }
}

/// base64url without padding, as JOSE writes every binary value.
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A test key from `testdata/` as a secret.
    pub(crate) fn test_key(name: &str) -> SecretString {
        let path = format!(
            "{}/src/auth/oauth/testdata/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        SecretString::from(std::fs::read_to_string(path).expect("test key file"))
    }

    fn verify(key: &SigningKey, msg: &[u8], sig: &[u8]) {
        let jwk = key.public_jwk();
        let dec = |m: &str| URL_SAFE_NO_PAD.decode(jwk[m].as_str().unwrap()).unwrap();
        match key.alg() {
            Alg::Rs256 => signature::RsaPublicKeyComponents {
                n: dec("n"),
                e: dec("e"),
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
            .expect("RS256 signature verifies with the public JWK"),
            Alg::Es256 => {
                let mut point = vec![4u8];
                point.extend(dec("x"));
                point.extend(dec("y"));
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .expect("ES256 signature verifies with the public JWK");
            }
        }
    }

    #[test]
    fn accepts_every_supported_form_with_the_algorithm_of_the_key() {
        let rsa_jwk = SigningKey::parse(&test_key("rsa2048.pkcs8.pem"))
            .unwrap()
            .public_jwk()
            .clone();
        let ec_jwk = SigningKey::parse(&test_key("ec256.pkcs8.pem"))
            .unwrap()
            .public_jwk()
            .clone();
        let published =
            |f: &str| -> Value { serde_json::from_str(test_key(f).expose_secret()).unwrap() };
        assert_eq!(rsa_jwk, published("rsa2048.public.jwk.json"));
        assert_eq!(ec_jwk, published("ec256.public.jwk.json"));
        for (file, alg, jwk) in [
            ("rsa2048.pkcs8.pem", Alg::Rs256, &rsa_jwk),
            ("rsa2048.pkcs1.pem", Alg::Rs256, &rsa_jwk),
            ("rsa2048.private.jwk.json", Alg::Rs256, &rsa_jwk),
            ("ec256.pkcs8.pem", Alg::Es256, &ec_jwk),
            ("ec256.private.jwk.json", Alg::Es256, &ec_jwk),
        ] {
            let key = SigningKey::parse(&test_key(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(key.alg(), alg, "{file}");
            assert_eq!(key.public_jwk(), jwk, "{file}: same key, same public JWK");
            assert!(
                key.public_jwk().get("d").is_none(),
                "{file}: public JWK only"
            );
            let sig = key.sign(b"header.claims").unwrap();
            verify(&key, b"header.claims", &sig);
        }
    }

    #[test]
    fn refuses_every_unsupported_form_naming_the_problem_and_the_key() {
        let pkcs8 = test_key("rsa2048.pkcs8.pem");
        let private_rsa: Value =
            serde_json::from_str(test_key("rsa2048.private.jwk.json").expose_secret()).unwrap();
        let mut rsa_d_only = private_rsa.clone();
        for m in ["p", "q", "dp", "dq", "qi"] {
            rsa_d_only.as_object_mut().unwrap().remove(m);
        }
        let mut p384_jwk: Value =
            serde_json::from_str(test_key("ec256.private.jwk.json").expose_secret()).unwrap();
        p384_jwk["crv"] = json!("P-384");
        let cases: Vec<(String, &str)> = vec![
            (
                test_key("rsa2048.pub.pem").expose_secret().to_owned(),
                "public key",
            ),
            (
                test_key("ec256.pub.pem").expose_secret().to_owned(),
                "public key",
            ),
            (
                test_key("rsa1024.pkcs8.pem").expose_secret().to_owned(),
                "shorter than 2048",
            ),
            (
                test_key("rsa2048.encrypted.pem").expose_secret().to_owned(),
                "encrypted PEM",
            ),
            (
                test_key("ec384.pkcs8.pem").expose_secret().to_owned(),
                "P-384",
            ),
            (
                test_key("ec256.sec1.pem").expose_secret().to_owned(),
                "SEC1",
            ),
            (
                test_key("rsa2048.public.jwk.json")
                    .expose_secret()
                    .to_owned(),
                "without its private part",
            ),
            (
                test_key("ec256.public.jwk.json").expose_secret().to_owned(),
                "without its private part",
            ),
            (rsa_d_only.to_string(), "CRT members"),
            (p384_jwk.to_string(), "\"P-384\""),
            (r#"{"kty":"oct","k":"c2VjcmV0"}"#.to_owned(), "kty \"oct\""),
            (r#"{"not":"a jwk"}"#.to_owned(), "not a JWK"),
            ("hunter2-not-a-key".to_owned(), "neither a PEM block"),
            (
                "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n".to_owned(),
                "not valid PEM",
            ),
            (
                pkcs8.expose_secret().replace(
                    "-----BEGIN PRIVATE KEY-----\n",
                    "-----BEGIN PRIVATE KEY-----\nAAAA",
                ),
                "PrivateKey",
            ),
        ];
        for (text, expected) in cases {
            let err = SigningKey::parse(&SecretString::from(text.clone())).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert_eq!(
                err.kind(),
                connector_api::ErrorKind::InvalidConfig,
                "{shown}"
            );
            assert!(err.message().starts_with("PrivateKey: "), "{shown}");
            assert!(
                shown.contains(expected),
                "{expected:?} missing from {shown}"
            );
            for line in text
                .lines()
                .filter(|l| l.len() > 20 && !l.starts_with("-----"))
            {
                assert!(!shown.contains(line), "key material quoted in {shown}");
            }
        }
    }

    #[test]
    fn debug_shows_the_algorithm_only() {
        let key = SigningKey::parse(&test_key("ec256.private.jwk.json")).unwrap();
        assert_eq!(format!("{key:?}"), "SigningKey { alg: \"ES256\", .. }");
    }
}
