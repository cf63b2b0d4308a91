//! The Okta Identity Governance object types and the one table of what Okta says about each:
//! which list it is read from and how, what its external id is, what it references, which
//! statuses mean it is gone and what an administrator or service app needs to read it.
//!
//! Every IGA module reads this table (URLs, mapping, the run's order, `check`, skip reasons,
//! the descriptor, `ConfigJson.Iga.ObjectTypes`); code specific to one type exists only where
//! the type truly differs (a grant's nested value ids, the principals a grant names).

use super::{Bucket, ResourceKind};

/// An IGA object type this connector emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IgaType {
    /// `IgaCampaign`: an access certification campaign.
    Campaign,
    /// `IgaReview`: one review item of a campaign, scoped by campaign id.
    Review,
    /// `IgaEntitlementBundle`: an entitlement bundle.
    EntitlementBundle,
    /// `IgaLabel`: a governance label with its values.
    Label,
    /// `IgaCollection`: a resource collection.
    Collection,
    /// `IgaRiskRule`: a separation-of-duties risk rule.
    RiskRule,
    /// `IgaDelegate`: a delegate appointment.
    Delegate,
    /// `IgaRequestType`: an access request type.
    RequestType,
    /// `IgaTeam`: an access request team.
    Team,
    /// `IgaRequest`: an access request (v2).
    Request,
    /// `IgaCatalogEntry`: a top-level access request catalog entry.
    CatalogEntry,
    /// `IgaEntitlement`: an entitlement of a resource.
    Entitlement,
    /// `IgaEntitlementValue`: a value of an entitlement of a resource.
    EntitlementValue,
    /// `IgaGrant`: a grant on a resource.
    Grant,
    /// `IgaResourceOwner`: the owners of one resource under a parent resource.
    ResourceOwner,
    /// `IgaPrincipalEntitlement`: a user's effective entitlement in an app.
    PrincipalEntitlement,
    /// `IgaRequestCondition`: an access request condition of a resource.
    RequestCondition,
    /// `IgaRequestSequence`: an approval sequence usable by a resource.
    RequestSequence,
}

/// Where a type's list is read, and so what scope its objects get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Once per org; objects are unscoped.
    Org,
    /// Once per campaign that is not DELETED; scope = campaign id.
    PerCampaign,
    /// Once per resource of these kinds; scope = `APPLICATION:<id>` / `GROUP:<id>`.
    PerResource(&'static [ResourceKind]),
}

/// The filter a list requires (besides [`IgaSpec::query`]), built for the scope read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// No filter.
    None,
    /// `campaignId eq "<id>"`.
    Campaign,
    /// `parent.externalId eq "<id>" AND parent.type eq "<APPLICATION|GROUP>"`.
    Parent,
    /// `target.externalId eq "<id>" AND target.type eq "<APPLICATION|GROUP>"`.
    Target,
    /// `parentResourceOrn eq "<orn>"` (an ORN Okta sent, never one built here).
    ParentOrn,
    /// The app's parent filter plus `targetPrincipal.externalId eq "<userId>" AND
    /// targetPrincipal.type eq "OKTA_USER"`.
    Principal,
}

/// How an object's external id is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdRule {
    /// The string at this field (`id`, `labelId`).
    Field(&'static str),
    /// `<scope>:<id>`, with `sequenceId` = `id` (the same object is listed under many scopes).
    ScopedId,
    /// `<parentResourceOrn>|<resource.orn>` (the API gives no id; ORNs contain `:`).
    OwnerPair,
    /// `<appId>:<userId>:<id>` (`id` is the entitlement's, repeated across users), with
    /// `entitlementId` and `principalId`.
    PrincipalTriple,
}

/// Everything Okta says about one IGA object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IgaSpec {
    /// The object type.
    pub ty: IgaType,
    /// The object type name (`IgaCampaign`, …).
    pub name: &'static str,
    /// The list's endpoint (`GET <path>`; `{resourceId}` in the path stands for the resource's
    /// id), for requests, logs, errors and skip reasons.
    pub endpoint: &'static str,
    /// The rate-limit bucket it is charged to.
    pub bucket: Bucket,
    /// Where it is read.
    pub level: Level,
    /// Whether the list takes `limit` (1–[`MAX_IGA_PAGE_SIZE`](super::MAX_IGA_PAGE_SIZE)).
    pub paged: bool,
    /// The filter built for the scope read.
    pub filter: Filter,
    /// Fixed query parameters, sent after `limit` and the filter.
    pub query: &'static [(&'static str, &'static str)],
    /// How the external id is formed.
    pub id: IdRule,
    /// Reference attributes: (attribute, dotted path of a string in the item; null if absent).
    pub references: &'static [(&'static str, &'static str)],
    /// Reference lists: (attribute, array in the item, dotted path in each element).
    pub reference_lists: &'static [(&'static str, &'static str, &'static str)],
    /// The field of an item naming the ORN of the resource it was listed for (read to list
    /// that resource's owners).
    pub parent_orn: Option<&'static str>,
    /// Values of `status` meaning the object no longer exists (emitted as deletes).
    pub gone: &'static [&'static str],
    /// The OAuth scope a service app needs (the list operation's `security` in Okta's spec).
    pub read_scope: &'static str,
    /// The admin role an API token's administrator needs.
    pub admin_role: &'static str,
    /// Okta's lifecycle of the endpoint (GA, EA, BETA).
    pub lifecycle: &'static str,
    /// What the type is, and how its external id and scope are formed.
    pub description: &'static str,
}

impl IgaSpec {
    /// The list's path (`/governance/api/v1/campaigns`).
    pub fn path(&self) -> &'static str {
        self.endpoint.trim_start_matches("GET ")
    }
}

const APPS_AND_GROUPS: &[ResourceKind] = &[ResourceKind::Application, ResourceKind::Group];
const APPS: &[ResourceKind] = &[ResourceKind::Application];
const CERTIFICATIONS_ADMIN: &str =
    "Access Certifications Administrator (ACCESS_CERTIFICATIONS_ADMIN) or Super Administrator";
const APP_ADMIN: &str = "Application Administrator (APP_ADMIN) or Super Administrator";
const REQUESTS_ADMIN: &str =
    "Access Requests Administrator (ACCESS_REQUESTS_ADMIN) or Super Administrator";
const SUPER_ADMIN: &str = "Super Administrator (SUPER_ADMIN)";

/// An org-level, paged, unfiltered list whose objects are keyed by `id`.
const ORG_LIST: IgaSpec = IgaSpec {
    ty: IgaType::Campaign,
    name: "",
    endpoint: "",
    bucket: Bucket::IgaV1,
    level: Level::Org,
    paged: true,
    filter: Filter::None,
    query: &[],
    id: IdRule::Field("id"),
    references: &[],
    reference_lists: &[],
    parent_orn: None,
    gone: &[],
    read_scope: "",
    admin_role: SUPER_ADMIN,
    lifecycle: "GA",
    description: "",
};

/// A per-resource, paged list whose objects are keyed by `id`.
const RESOURCE_LIST: IgaSpec = IgaSpec {
    level: Level::PerResource(APPS_AND_GROUPS),
    filter: Filter::Parent,
    read_scope: "okta.governance.entitlements.read",
    admin_role: APP_ADMIN,
    ..ORG_LIST
};

/// One row per type, in the order a run reads them (the order of [`IgaType::ALL`]).
pub const SPECS: [IgaSpec; 18] = [
    IgaSpec {
        ty: IgaType::Campaign,
        name: "IgaCampaign",
        endpoint: "GET /governance/api/v1/campaigns",
        gone: &["DELETED"],
        read_scope: "okta.governance.accessCertifications.read",
        admin_role: CERTIFICATIONS_ADMIN,
        description: "IGA access certification campaign; external id = campaign id (ici…). DELETED campaigns are emitted as deletes.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::Review,
        name: "IgaReview",
        endpoint: "GET /governance/api/v1/reviews",
        level: Level::PerCampaign,
        filter: Filter::Campaign,
        references: &[
            ("resourceId", "resourceId"),
            ("principalId", "principalProfile.id"),
            ("reviewerId", "reviewerProfile.id"),
        ],
        read_scope: "okta.governance.accessCertifications.read",
        admin_role: CERTIFICATIONS_ADMIN,
        description: "IGA campaign review; external id = review id (icr…), scope = campaignId; references campaignId, resourceId, principalId, reviewerId.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::EntitlementBundle,
        name: "IgaEntitlementBundle",
        endpoint: "GET /governance/api/v1/entitlement-bundles",
        query: &[("include", "full_entitlements")],
        references: &[
            ("targetId", "target.externalId"),
            ("targetType", "target.type"),
        ],
        gone: &["DELETED"],
        read_scope: "okta.governance.entitlements.read",
        admin_role: APP_ADMIN,
        description: "IGA entitlement bundle; external id = bundle id (enb…); references targetResourceOrn, targetId, targetType. DELETED bundles are emitted as deletes.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::Label,
        name: "IgaLabel",
        endpoint: "GET /governance/api/v1/labels",
        paged: false,
        id: IdRule::Field("labelId"),
        reference_lists: &[("valueIds", "values", "labelValueId")],
        read_scope: "okta.governance.labels.read",
        lifecycle: "BETA",
        description: "IGA label; external id = labelId (lbc…); references valueIds (labelValueId of each value).",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::Collection,
        name: "IgaCollection",
        endpoint: "GET /governance/api/v1/collections",
        query: &[("include", "counts")],
        read_scope: "okta.governance.collections.read",
        admin_role: APP_ADMIN,
        lifecycle: "BETA",
        description: "IGA resource collection; external id = collection id (col…).",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::RiskRule,
        name: "IgaRiskRule",
        endpoint: "GET /governance/api/v1/risk-rules",
        reference_lists: &[("resourceOrns", "resources", "resourceOrn")],
        read_scope: "okta.governance.riskRule.read",
        admin_role: APP_ADMIN,
        lifecycle: "BETA",
        description: "IGA risk rule; external id = rule id; references resourceOrns.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::Delegate,
        name: "IgaDelegate",
        endpoint: "GET /governance/api/v1/delegates",
        references: &[
            ("delegatorId", "delegator.externalId"),
            ("delegateId", "delegate.externalId"),
        ],
        read_scope: "okta.governance.delegates.read",
        lifecycle: "BETA",
        description: "IGA delegate appointment; external id = appointment id; references delegatorId, delegateId.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::RequestType,
        name: "IgaRequestType",
        endpoint: "GET /governance/api/v1/request-types",
        read_scope: "okta.governance.accessRequests.read",
        admin_role: REQUESTS_ADMIN,
        lifecycle: "BETA",
        description: "IGA access request type; external id = request type id.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::Team,
        name: "IgaTeam",
        endpoint: "GET /governance/api/v1/teams",
        read_scope: "okta.governance.accessRequests.read",
        admin_role: REQUESTS_ADMIN,
        lifecycle: "BETA",
        description: "IGA access request team; external id = team id.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::Request,
        name: "IgaRequest",
        endpoint: "GET /governance/api/v2/requests",
        bucket: Bucket::IgaRequests,
        references: &[
            ("requestedForId", "requestedFor.externalId"),
            ("requestedById", "requestedBy.externalId"),
            ("resourceId", "requested.resourceId"),
            ("resourceType", "requested.resourceType"),
            ("catalogEntryId", "requested.entryId"),
        ],
        read_scope: "okta.accessRequests.request.read",
        admin_role: REQUESTS_ADMIN,
        description: "IGA access request (v2); external id = request id (req…); references requestedForId, requestedById, resourceId, resourceType, catalogEntryId.",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::CatalogEntry,
        name: "IgaCatalogEntry",
        endpoint: "GET /governance/api/v2/catalogs/default/entries",
        bucket: Bucket::IgaV2,
        query: &[("filter", "not(parent pr)")],
        read_scope: "okta.accessRequests.catalog.read",
        admin_role: REQUESTS_ADMIN,
        lifecycle: "EA",
        description: "IGA top-level access request catalog entry; external id = entry id (cen…).",
        ..ORG_LIST
    },
    IgaSpec {
        ty: IgaType::Entitlement,
        name: "IgaEntitlement",
        endpoint: "GET /governance/api/v1/entitlements",
        parent_orn: Some("parentResourceOrn"),
        description: "IGA entitlement of a resource; external id = entitlement id (esp…), scope = <APPLICATION|GROUP>:<resourceId>; references resourceId, resourceType, parentResourceOrn.",
        ..RESOURCE_LIST
    },
    IgaSpec {
        ty: IgaType::EntitlementValue,
        name: "IgaEntitlementValue",
        endpoint: "GET /governance/api/v1/entitlements/values",
        parent_orn: Some("parentResourceOrn"),
        description: "IGA entitlement value; external id = value id (ent…), scope = resource; references entitlementId, resourceId, resourceType, parentResourceOrn.",
        ..RESOURCE_LIST
    },
    IgaSpec {
        ty: IgaType::Grant,
        name: "IgaGrant",
        endpoint: "GET /governance/api/v1/grants",
        parent_orn: Some("targetResourceOrn"),
        filter: Filter::Target,
        references: &[
            ("principalId", "targetPrincipal.externalId"),
            ("principalType", "targetPrincipal.type"),
            ("entitlementBundleId", "entitlementBundleId"),
        ],
        reference_lists: &[("entitlementIds", "entitlements", "id")],
        lifecycle: "BETA",
        description: "IGA grant on a resource; external id = grant id (0gg…), scope = resource; references resourceId, resourceType, targetResourceOrn, principalId, principalType, targetPrincipalOrn, entitlementBundleId, entitlementIds, entitlementValueIds.",
        ..RESOURCE_LIST
    },
    IgaSpec {
        ty: IgaType::ResourceOwner,
        name: "IgaResourceOwner",
        endpoint: "GET /governance/api/v1/resource-owners",
        filter: Filter::ParentOrn,
        query: &[("include", "parent_resource_owner")],
        id: IdRule::OwnerPair,
        references: &[
            ("resourceOrn", "resource.orn"),
            ("ownedResourceId", "resource.id"),
            ("ownedResourceType", "resource.type"),
        ],
        reference_lists: &[
            ("principalOrns", "principals", "orn"),
            ("principalIds", "principals", "profile.id"),
        ],
        read_scope: "okta.governance.resourceOwner.read",
        admin_role: SUPER_ADMIN,
        lifecycle: "BETA",
        description: "IGA owners of one resource under a parent resource (no id in the API); external id = <parentResourceOrn>|<resource.orn>, scope = parent resource; references resourceOrn, ownedResourceId, ownedResourceType, principalOrns, principalIds.",
        ..RESOURCE_LIST
    },
    IgaSpec {
        ty: IgaType::PrincipalEntitlement,
        name: "IgaPrincipalEntitlement",
        endpoint: "GET /governance/api/v1/principal-entitlements",
        level: Level::PerResource(APPS),
        paged: false,
        filter: Filter::Principal,
        id: IdRule::PrincipalTriple,
        reference_lists: &[("valueIds", "values", "id")],
        description: "IGA effective entitlement of a user in an app; external id = <appId>:<userId>:<entitlementId>, scope = APPLICATION:<appId>; references resourceId, principalId, entitlementId, valueIds.",
        ..RESOURCE_LIST
    },
    IgaSpec {
        ty: IgaType::RequestCondition,
        name: "IgaRequestCondition",
        endpoint: "GET /governance/api/v2/resources/{resourceId}/request-conditions",
        bucket: Bucket::IgaV2,
        paged: false,
        filter: Filter::None,
        gone: &["DELETED"],
        read_scope: "okta.accessRequests.condition.read",
        admin_role: REQUESTS_ADMIN,
        description: "IGA access request condition of a resource; external id = condition id (rco…), scope = resource; references resourceId, resourceType, approvalSequenceId. DELETED conditions are emitted as deletes.",
        ..RESOURCE_LIST
    },
    IgaSpec {
        ty: IgaType::RequestSequence,
        name: "IgaRequestSequence",
        endpoint: "GET /governance/api/v2/resources/{resourceId}/request-sequences",
        bucket: Bucket::IgaV2,
        paged: false,
        filter: Filter::None,
        id: IdRule::ScopedId,
        read_scope: "okta.accessRequests.condition.read",
        admin_role: REQUESTS_ADMIN,
        description: "IGA approval sequence usable by a resource (the same sequence appears under many); external id = <scope>:<sequenceId>, scope = resource; references sequenceId, resourceId, resourceType.",
        ..RESOURCE_LIST
    },
];

impl IgaType {
    /// Every type, in the order a run reads them.
    pub const ALL: [IgaType; 18] = {
        let mut all = [IgaType::Campaign; 18];
        let mut i = 0;
        while i < SPECS.len() {
            all[i] = SPECS[i].ty;
            i += 1;
        }
        all
    };

    /// The type's row of [`SPECS`].
    pub fn spec(self) -> &'static IgaSpec {
        // Exhaustive on purpose: a new type does not compile until it has a row.
        let row = match self {
            IgaType::Campaign => 0,
            IgaType::Review => 1,
            IgaType::EntitlementBundle => 2,
            IgaType::Label => 3,
            IgaType::Collection => 4,
            IgaType::RiskRule => 5,
            IgaType::Delegate => 6,
            IgaType::RequestType => 7,
            IgaType::Team => 8,
            IgaType::Request => 9,
            IgaType::CatalogEntry => 10,
            IgaType::Entitlement => 11,
            IgaType::EntitlementValue => 12,
            IgaType::Grant => 13,
            IgaType::ResourceOwner => 14,
            IgaType::PrincipalEntitlement => 15,
            IgaType::RequestCondition => 16,
            IgaType::RequestSequence => 17,
        };
        &SPECS[row]
    }

    /// The object type name (`IgaCampaign`, …).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The type named `name`, if any.
    pub fn parse(name: &str) -> Option<IgaType> {
        IgaType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Whether the type is listed per app or group (scope = `APPLICATION:<id>` / `GROUP:<id>`).
    pub fn per_resource(self) -> bool {
        matches!(self.spec().level, Level::PerResource(_))
    }

    /// Whether objects carry a scope: per-resource types, and reviews (scope = campaign id).
    pub fn scoped(self) -> bool {
        self.spec().level != Level::Org
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_row_per_type_in_order() {
        for (i, spec) in SPECS.iter().enumerate() {
            assert_eq!(IgaType::ALL[i], spec.ty);
            assert_eq!(spec.ty.spec(), spec, "{:?} points at its own row", spec.ty);
            assert!(spec.name.starts_with("Iga"), "{spec:?}");
            assert!(spec.path().starts_with("/governance/api/v"), "{spec:?}");
            assert!(spec.endpoint.starts_with("GET /"), "{spec:?}");
            assert!(spec.read_scope.starts_with("okta."), "{spec:?}");
            assert!(!spec.admin_role.is_empty() && !spec.lifecycle.is_empty());
            assert!(!spec.description.is_empty());
        }
    }

    #[test]
    fn names_round_trip_and_scoping_is_consistent() {
        for t in IgaType::ALL {
            assert_eq!(IgaType::parse(t.name()), Some(t));
            assert!(!t.per_resource() || t.scoped());
        }
        assert_eq!(IgaType::parse("Campaign"), None);
        assert!(IgaType::Review.scoped() && !IgaType::Review.per_resource());
        assert!(!IgaType::Label.scoped());
    }
}
