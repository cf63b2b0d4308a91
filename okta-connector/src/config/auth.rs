//! `AuthJson`: how the connector authenticates, after the host resolved its secret
//! references. Parsed without ever quoting a value (any of them may be the secret); the result
//! holds the secret only in a [`SecretString`].

use connector_api::{ConnectorError, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The authentication JSON, exactly as the host hands it over. Which fields a mode needs is
/// checked after parsing, so a missing one is named with its mode.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthJson {
    #[serde(rename = "Mode")]
    mode: AuthMode,
    #[serde(rename = "ApiKey")]
    api_key: Option<SecretString>,
    #[serde(rename = "ClientId")]
    client_id: Option<String>,
    #[serde(rename = "PrivateKey")]
    private_key: Option<SecretString>,
    #[serde(rename = "KeyId")]
    key_id: Option<String>,
    #[serde(rename = "Scopes")]
    scopes: Option<Vec<String>>,
    #[serde(rename = "Dpop")]
    dpop: Option<bool>,
}

#[derive(Deserialize)]
enum AuthMode {
    ApiKey,
    PrivateKeyJwt,
}

/// The validated authentication settings: which credential to build, with its secret.
#[derive(Debug)]
pub enum AuthSettings {
    /// An Okta API token (sent as `Authorization: SSWS …`), bare, printable ASCII.
    ApiKey(SecretString),
    /// An OAuth 2.0 service app authenticating with a private-key JWT.
    PrivateKeyJwt(OAuthSettings),
}

/// `Mode: "PrivateKeyJwt"`: an OAuth 2.0 service app (client credentials, `private_key_jwt`).
#[derive(Debug)]
pub struct OAuthSettings {
    /// `ClientId`: the app's client id (an identifier, not a secret).
    pub client_id: String,
    /// `PrivateKey`: the resolved PEM or JWK; parsed when the credential is built.
    pub private_key: SecretString,
    /// `KeyId`: sent as the assertion's `kid`.
    pub key_id: Option<String>,
    /// `Scopes`: the scopes to request instead of the default (what the configuration reads).
    pub scopes: Option<Vec<String>>,
    /// `Dpop`: `true` always, absent when the app requires it, `false` never.
    pub dpop: Option<bool>,
}

const HINT: &str = "AuthJson must look like {\"Mode\": \"ApiKey\", \"ApiKey\": \"secret://…\"} or \
    {\"Mode\": \"PrivateKeyJwt\", \"ClientId\": \"0oa…\", \"PrivateKey\": \"secret://…\", \"KeyId\": \"…\"}";

/// Parses `AuthJson` without ever quoting its values (they may be the token).
pub(super) fn parse_auth_json(auth: &SecretString) -> Result<AuthSettings> {
    let mut de = serde_json::Deserializer::from_str(auth.expose_secret());
    let parsed: std::result::Result<AuthJson, _> = serde_path_to_error::deserialize(&mut de);
    let parsed = parsed.map_err(|err| {
        ConnectorError::invalid_config(describe_parse_error(err)).with_remediation(HINT)
    })?;
    match parsed.mode {
        AuthMode::ApiKey => api_key_settings(parsed),
        AuthMode::PrivateKeyJwt => oauth_settings(parsed),
    }
}

/// A field that does not belong to the chosen mode, by name.
fn foreign_field(parsed: &AuthJson, mode: &str) -> Option<&'static str> {
    let fields = [
        ("ApiKey", parsed.api_key.is_some()),
        ("ClientId", parsed.client_id.is_some()),
        ("PrivateKey", parsed.private_key.is_some()),
        ("KeyId", parsed.key_id.is_some()),
        ("Scopes", parsed.scopes.is_some()),
        ("Dpop", parsed.dpop.is_some()),
    ];
    let allowed: &[&str] = if mode == "ApiKey" {
        &["ApiKey"]
    } else {
        &["ClientId", "PrivateKey", "KeyId", "Scopes", "Dpop"]
    };
    fields
        .iter()
        .find(|(name, set)| *set && !allowed.contains(name))
        .map(|(name, _)| *name)
}

fn misplaced(field: &str, mode: &str) -> ConnectorError {
    ConnectorError::invalid_config(format!(
        "AuthJson.{field} does not apply to Mode \"{mode}\""
    ))
    .with_remediation(HINT)
}

fn missing(field: &str, mode: &str) -> ConnectorError {
    ConnectorError::invalid_config(format!("AuthJson.{field} is required with Mode \"{mode}\""))
        .with_remediation(HINT)
}

/// `Mode: "PrivateKeyJwt"`: ClientId and PrivateKey required; KeyId, Scopes, Dpop optional.
fn oauth_settings(parsed: AuthJson) -> Result<AuthSettings> {
    const MODE: &str = "PrivateKeyJwt";
    if let Some(field) = foreign_field(&parsed, MODE) {
        return Err(misplaced(field, MODE));
    }
    let client_id = parsed.client_id.ok_or_else(|| missing("ClientId", MODE))?;
    let client_id = client_id.trim().to_owned();
    if client_id.is_empty() || !client_id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConnectorError::invalid_config(
            "AuthJson.ClientId must be the app's client id (printable ASCII, no spaces)",
        )
        .with_remediation(
            "Copy the Client ID from the app's General tab in the Okta Admin Console",
        ));
    }
    let key_id = match parsed.key_id.map(|k| k.trim().to_owned()) {
        Some(k) if k.is_empty() || !k.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(ConnectorError::invalid_config(
                "AuthJson.KeyId must be the key's KID as Okta shows it (printable ASCII, no spaces), or left out",
            ));
        }
        k => k,
    };
    let private_key = parsed
        .private_key
        .ok_or_else(|| missing("PrivateKey", MODE))?;
    if private_key.expose_secret().trim().is_empty() {
        return Err(ConnectorError::invalid_config(
            "AuthJson.PrivateKey is empty",
        ));
    }
    if private_key.expose_secret().starts_with("secret://") {
        return Err(ConnectorError::invalid_config(
            "AuthJson.PrivateKey is still an unresolved secret reference; the host must resolve it before creating the connector",
        ));
    }
    let scopes = match parsed.scopes {
        Some(list) => Some(validate_scopes(list)?),
        None => None,
    };
    Ok(AuthSettings::PrivateKeyJwt(OAuthSettings {
        client_id,
        private_key,
        key_id,
        scopes,
        dpop: parsed.dpop,
    }))
}

/// `Scopes`: a non-empty list of scope names (`okta.users.read`…).
fn validate_scopes(list: Vec<String>) -> Result<Vec<String>> {
    let scopes: Vec<String> = list.iter().map(|s| s.trim().to_owned()).collect();
    let bad = scopes.is_empty()
        || scopes
            .iter()
            .any(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()));
    if bad {
        return Err(ConnectorError::invalid_config(
            "AuthJson.Scopes must be a non-empty list of scope names such as \"okta.users.read\" (no spaces), or left out to request what the configuration reads",
        ));
    }
    Ok(scopes)
}

/// `Mode: "ApiKey"`: the API token, checked for the usual copy-and-paste mistakes.
fn api_key_settings(parsed: AuthJson) -> Result<AuthSettings> {
    if let Some(field) = foreign_field(&parsed, "ApiKey") {
        return Err(misplaced(field, "ApiKey"));
    }
    let Some(api_key) = parsed.api_key else {
        return Err(
            ConnectorError::invalid_config("AuthJson: missing field `ApiKey`")
                .with_remediation(HINT),
        );
    };
    if let Some(problem) = token_problem(api_key.expose_secret()) {
        return Err(ConnectorError::invalid_config(problem).with_remediation(
            "Store the token created under Security → API → Tokens, exactly as Okta showed it, as the connector's secret",
        ));
    }
    Ok(AuthSettings::ApiKey(api_key))
}

/// What is wrong with the JSON, in words that never quote a value.
fn describe_parse_error(err: serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = err.path().to_string();
    let inner = err.into_inner();
    let text = inner.to_string();
    if inner.is_syntax() || inner.is_eof() {
        format!(
            "AuthJson is not valid JSON (line {}, column {})",
            inner.line(),
            inner.column()
        )
    } else if text.starts_with("missing field") {
        // serde names our own field here, never a value.
        format!(
            "AuthJson: {}",
            text.split(" at line").next().unwrap_or(&text)
        )
    } else if text.starts_with("unknown field") {
        "AuthJson has an unknown field; the allowed fields are Mode, ApiKey, ClientId, PrivateKey, KeyId, Scopes and Dpop"
            .to_owned()
    } else if text.starts_with("unknown variant") {
        "AuthJson.Mode must be \"ApiKey\" or \"PrivateKeyJwt\"".to_owned()
    } else if matches!(
        path.as_str(),
        "Mode" | "ApiKey" | "ClientId" | "PrivateKey" | "KeyId"
    ) {
        format!("AuthJson.{path} must be a string")
    } else if path.starts_with("Scopes") {
        "AuthJson.Scopes must be a list of strings".to_owned()
    } else if path == "Dpop" {
        "AuthJson.Dpop must be true or false (or left out)".to_owned()
    } else {
        "AuthJson must be a JSON object with the fields Mode and ApiKey, or Mode, ClientId and PrivateKey"
            .to_owned()
    }
}

/// Why `token` cannot be an API token, if it cannot.
///
/// These messages say "the API token" instead of naming its field: a host may redact every
/// string value of the auth JSON from messages, and the mode's value is that field's name.
fn token_problem(token: &str) -> Option<&'static str> {
    if token.trim().is_empty() {
        Some("AuthJson: the API token is empty")
    } else if token.starts_with("secret://") {
        Some(
            "AuthJson: the API token is still an unresolved secret reference; the host must resolve it before creating the connector",
        )
    } else if token
        .as_bytes()
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SSWS "))
    {
        Some("AuthJson: the API token must be the bare token, without the \"SSWS \" prefix")
    } else if !token.bytes().all(|b| b.is_ascii_graphic()) {
        Some(
            "AuthJson: the API token contains spaces, line breaks or non-ASCII characters; copy it again",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use connector_api::ErrorKind;

    use super::*;

    fn parse(json: &str) -> Result<AuthSettings> {
        parse_auth_json(&SecretString::from(json.to_owned()))
    }

    #[test]
    fn private_key_jwt_with_every_field() {
        let s = parse(
            r#"{"Mode":"PrivateKeyJwt","ClientId":" 0oa8f2k1 ","PrivateKey":"-----BEGIN PRIVATE KEY-----canary","KeyId":"kid-2026-12","Scopes":["okta.users.read"],"Dpop":true}"#,
        )
        .unwrap();
        let AuthSettings::PrivateKeyJwt(o) = &s else {
            panic!("PrivateKeyJwt expected")
        };
        assert_eq!(o.client_id, "0oa8f2k1");
        assert_eq!(o.key_id.as_deref(), Some("kid-2026-12"));
        assert_eq!(
            o.scopes.as_deref(),
            Some(&["okta.users.read".to_owned()][..])
        );
        assert_eq!(o.dpop, Some(true));
        assert!(!format!("{s:?}").contains("canary"));
        let minimal = parse(r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"k"}"#);
        let Ok(AuthSettings::PrivateKeyJwt(o)) = minimal else {
            panic!("minimal PrivateKeyJwt")
        };
        assert!(o.key_id.is_none() && o.scopes.is_none() && o.dpop.is_none());
    }

    #[test]
    fn each_problem_names_its_key_without_quoting_values() {
        let cases = [
            (
                r#"{"Mode":"PrivateKeyJwt","PrivateKey":"canary"}"#,
                "ClientId",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1"}"#,
                "PrivateKey",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"  "}"#,
                "PrivateKey",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"secret://okta/k"}"#,
                "unresolved",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0o a1","PrivateKey":"canary"}"#,
                "ClientId",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"canary","KeyId":""}"#,
                "KeyId",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"canary","Scopes":[]}"#,
                "Scopes",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"canary","Scopes":"okta.users.read"}"#,
                "Scopes",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"canary","Dpop":"yes"}"#,
                "Dpop",
            ),
            (
                r#"{"Mode":"PrivateKeyJwt","ClientId":"0oa1","PrivateKey":"canary","ApiKey":"canary"}"#,
                "ApiKey",
            ),
            (
                r#"{"Mode":"ApiKey","ApiKey":"canary","ClientId":"0oa1"}"#,
                "ClientId",
            ),
            (r#"{"Mode":"Oauth","ClientId":"0oa1"}"#, "PrivateKeyJwt"),
        ];
        for (json, key) in cases {
            let e = parse(json).expect_err(json);
            assert_eq!(e.kind(), ErrorKind::InvalidConfig, "{json}");
            assert!(e.message().contains(key), "{json}: {e}");
            assert!(!format!("{e} {e:?}").contains("canary"), "{json}: {e}");
        }
    }
}
