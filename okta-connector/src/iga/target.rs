//! What one IGA list read is for: the org, one campaign, one app or group (a resource), or
//! one user in one app. The URL of the read and the scope of its objects follow from it.

use connector_api::ConnectorError;

use crate::okta::ResourceKind;
use crate::okta::iga::IgaSpec;

/// One app or group whose per-resource objects are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgaResource {
    /// App or group.
    pub kind: ResourceKind,
    /// The Okta id.
    pub id: String,
    /// The ORN Okta's own listing gave for it, if any.
    pub orn: Option<String>,
}

impl IgaResource {
    /// An app.
    pub fn application(id: impl Into<String>, orn: Option<String>) -> Self {
        IgaResource {
            kind: ResourceKind::Application,
            id: id.into(),
            orn,
        }
    }

    /// A group.
    pub fn group(id: impl Into<String>) -> Self {
        IgaResource {
            kind: ResourceKind::Group,
            id: id.into(),
            orn: None,
        }
    }

    /// The scope of its objects: `APPLICATION:<id>` or `GROUP:<id>`.
    pub fn scope(&self) -> String {
        format!("{}:{}", self.kind.filter_value(), self.id)
    }
}

/// What a list read is for.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The whole org (org-level lists).
    Org,
    /// One campaign (its reviews).
    Campaign(&'a str),
    /// One resource.
    Resource(&'a IgaResource),
    /// The owners under one resource, named by the ORN Okta sent for it.
    Owners(&'a IgaResource, &'a str),
    /// One user's effective entitlements in one app.
    Principal(&'a IgaResource, &'a str),
}

impl<'a> Target<'a> {
    /// The resource read, if any.
    pub fn resource(self) -> Option<&'a IgaResource> {
        match self {
            Target::Org | Target::Campaign(_) => None,
            Target::Resource(r) | Target::Owners(r, _) | Target::Principal(r, _) => Some(r),
        }
    }
}

/// The error for a list read with a target its level does not take (a bug, never input).
pub(crate) fn mismatch(spec: &IgaSpec, target: Target<'_>) -> ConnectorError {
    ConnectorError::internal(format!(
        "{} cannot be read for {target:?}: its list is read {:?}",
        spec.name, spec.level
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_type_and_id() {
        assert_eq!(
            IgaResource::application("0oa1", None).scope(),
            "APPLICATION:0oa1"
        );
        assert_eq!(IgaResource::group("00g1").scope(), "GROUP:00g1");
    }
}
