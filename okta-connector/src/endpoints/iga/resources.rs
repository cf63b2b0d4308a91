//! The apps and groups whose per-resource IGA objects are read, and how they appear in filters
//! and scopes.
//!
//! Apps come from `GET /api/v1/apps` (with the ORN Okta sends for each), groups from
//! `GET /api/v1/groups` (Okta's group objects carry no ORN).

/// Which kind of resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
pub enum ResourceKind {
    /// An app (`0oa…`).
    #[serde(rename = "applications")]
    Application,
    /// A group (`00g…`).
    #[serde(rename = "groups")]
    Group,
}

impl ResourceKind {
    /// The spelling in IGA filters and in scopes: `APPLICATION` or `GROUP`.
    pub fn filter_value(self) -> &'static str {
        match self {
            ResourceKind::Application => "APPLICATION",
            ResourceKind::Group => "GROUP",
        }
    }

    /// The spelling in `Iga.ResourceTypes`: `applications` or `groups`.
    pub fn config_value(self) -> &'static str {
        match self {
            ResourceKind::Application => "applications",
            ResourceKind::Group => "groups",
        }
    }
}

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
        assert_eq!(ResourceKind::Group.config_value(), "groups");
    }
}
