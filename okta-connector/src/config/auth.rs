//! `AuthJson`: how the connector authenticates, after the host resolved its secret
//! references. Parsed without ever quoting a value (any of them may be the secret); the result
//! holds the secret only in a [`SecretString`].

use connector_api::{ConnectorError, Result};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The authentication JSON, exactly as the host hands it over.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthJson {
    #[serde(rename = "Mode")]
    mode: AuthMode,
    #[serde(rename = "ApiKey")]
    api_key: SecretString,
}

#[derive(Deserialize)]
enum AuthMode {
    ApiKey,
}

/// The validated authentication settings: which credential to build, with its secret.
#[derive(Debug)]
pub enum AuthSettings {
    /// An Okta API token (sent as `Authorization: SSWS …`), bare, printable ASCII.
    ApiKey(SecretString),
}

const HINT: &str = "AuthJson must look like {\"Mode\": \"ApiKey\", \"ApiKey\": \"secret://…\"}";

/// Parses `AuthJson` without ever quoting its values (they may be the token).
pub(super) fn parse_auth_json(auth: &SecretString) -> Result<AuthSettings> {
    let mut de = serde_json::Deserializer::from_str(auth.expose_secret());
    let parsed: std::result::Result<AuthJson, _> = serde_path_to_error::deserialize(&mut de);
    let parsed = parsed.map_err(|err| {
        ConnectorError::invalid_config(describe_parse_error(err)).with_remediation(HINT)
    })?;
    let AuthMode::ApiKey = parsed.mode;
    if let Some(problem) = token_problem(parsed.api_key.expose_secret()) {
        return Err(ConnectorError::invalid_config(problem).with_remediation(
            "Store the token created under Security → API → Tokens, exactly as Okta showed it, as the connector's secret",
        ));
    }
    Ok(AuthSettings::ApiKey(parsed.api_key))
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
        "AuthJson has an unknown field; the allowed fields are Mode and ApiKey".to_owned()
    } else if text.starts_with("unknown variant") {
        "AuthJson.Mode must be \"ApiKey\" (the only mode this version supports)".to_owned()
    } else if matches!(path.as_str(), "Mode" | "ApiKey") {
        format!("AuthJson.{path} must be a string")
    } else {
        "AuthJson must be a JSON object with the fields Mode and ApiKey".to_owned()
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
