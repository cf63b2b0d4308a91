//! Environment variables: `secret://okta/contoso/apitoken` → `SECRET_OKTA_CONTOSO_APITOKEN`.
//!
//! The name is `SECRET_` followed by the reference's path, upper-cased, with every character
//! that is not an ASCII letter or digit replaced by `_`. Convenient for CI and containers;
//! anything that can read the process environment can read the value, so prefer the keyring or
//! a file on shared machines. The environment is read-only: `host secret set` cannot write it.

use std::collections::BTreeMap;

use secrecy::SecretString;

use super::{Backend, BackendKind, Lookup, SecretError, SecretRef};

/// The environment variable that holds `reference`.
pub fn variable_name(reference: &SecretRef) -> String {
    let mut name = String::from("SECRET_");
    name.extend(reference.path().chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name
}

/// Reads secrets from environment variables.
#[derive(Debug, Default)]
pub struct EnvBackend {
    fixed: Option<BTreeMap<String, SecretString>>,
}

impl EnvBackend {
    /// Reads the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a fixed set of variables instead of the process environment (tests, embedding).
    pub fn from_vars(vars: BTreeMap<String, SecretString>) -> Self {
        Self { fixed: Some(vars) }
    }
}

impl Backend for EnvBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Env
    }

    fn location(&self, reference: &SecretRef) -> String {
        format!("environment variable {}", variable_name(reference))
    }

    fn lookup(&self, reference: &SecretRef) -> Result<Lookup, SecretError> {
        let name = variable_name(reference);
        let value = match &self.fixed {
            Some(vars) => vars.get(&name).cloned(),
            None => match std::env::var_os(&name) {
                None => None,
                Some(os) => match os.into_string() {
                    Ok(s) => Some(SecretString::from(s)),
                    Err(_) => {
                        return Err(SecretError::Backend {
                            reference: reference.to_string(),
                            backend: BackendKind::Env,
                            reason: format!("{name} is not valid UTF-8"),
                        });
                    }
                },
            },
        };
        Ok(match value {
            Some(v) if !secrecy::ExposeSecret::expose_secret(&v).is_empty() => Lookup::Found(v),
            Some(_) => Lookup::Missing(format!("{name} is set but empty")),
            None => Lookup::Missing(format!("{name} is not set")),
        })
    }

    fn store(&self, reference: &SecretRef, _value: &SecretString) -> Result<(), SecretError> {
        Err(SecretError::Unsupported(format!(
            "the env backend is read-only: export {} in the environment that runs the host, or \
             use --backend keyring|file",
            variable_name(reference)
        )))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn r(s: &str) -> SecretRef {
        SecretRef::parse(s).unwrap()
    }

    #[test]
    fn maps_references_to_variable_names() {
        assert_eq!(
            variable_name(&r("secret://okta/contoso/apitoken")),
            "SECRET_OKTA_CONTOSO_APITOKEN"
        );
        assert_eq!(
            variable_name(&r("secret://okta/contoso.okta-emea.com/api_token2")),
            "SECRET_OKTA_CONTOSO_OKTA_EMEA_COM_API_TOKEN2"
        );
    }

    #[test]
    fn looks_up_fixed_variables() {
        let env = EnvBackend::from_vars(BTreeMap::from([
            (
                "SECRET_OKTA_X".to_owned(),
                SecretString::from("value-1".to_owned()),
            ),
            ("SECRET_EMPTY".to_owned(), SecretString::from(String::new())),
        ]));
        match env.lookup(&r("secret://okta/x")).unwrap() {
            Lookup::Found(v) => assert_eq!(v.expose_secret(), "value-1"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(env.lookup(&r("secret://empty")).unwrap(), Lookup::Missing(m) if m.contains("empty"))
        );
        assert!(
            matches!(env.lookup(&r("secret://nope")).unwrap(), Lookup::Missing(m) if m == "SECRET_NOPE is not set")
        );
    }

    #[test]
    fn store_is_refused_with_the_variable_name() {
        let err = EnvBackend::new()
            .store(&r("secret://a/b"), &SecretString::from("x".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("SECRET_A_B"), "{err}");
    }
}
