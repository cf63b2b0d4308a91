//! The SSWS API token: `Authorization: SSWS <token>` on every attempt, marked sensitive.

use async_trait::async_trait;
use connector_api::{ConnectorError, Result};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{AuthRetry, Credential};

/// An Okta API token; only ever held as a secret.
pub struct ApiToken(SecretString);

impl ApiToken {
    /// The token (validated by `config::auth`: bare, printable ASCII).
    pub fn new(token: SecretString) -> Self {
        ApiToken(token)
    }
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiToken([redacted])")
    }
}

#[async_trait]
impl Credential for ApiToken {
    async fn authorize(&self, _method: &Method, _url: &Url) -> Result<HeaderMap> {
        let mut value =
            HeaderValue::try_from(format!("SSWS {}", self.0.expose_secret())).map_err(|_| {
                ConnectorError::invalid_config(
                    "AuthJson: the API token is not a valid HTTP header value",
                )
                .with_remediation("Copy the token again, exactly as Okta showed it")
            })?;
        value.set_sensitive(true);
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        Ok(headers)
    }

    async fn rejected(&self, _status: StatusCode, _headers: &HeaderMap) -> Result<AuthRetry> {
        Ok(AuthRetry::No)
    }

    fn describe(&self) -> String {
        "API token (SSWS)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_a_sensitive_ssws_header_and_never_retries() {
        let token = ApiToken::new(SecretString::from("canary-5f2e9b".to_owned()));
        let url = Url::parse("https://contoso.okta.com/api/v1/users").unwrap();
        let headers = token.authorize(&Method::GET, &url).await.unwrap();
        let value = &headers[AUTHORIZATION];
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), "SSWS canary-5f2e9b");
        let again = token
            .rejected(StatusCode::UNAUTHORIZED, &HeaderMap::new())
            .await
            .unwrap();
        assert_eq!(again, AuthRetry::No);
        assert!(!format!("{token:?} {}", token.describe()).contains("canary"));
    }
}
