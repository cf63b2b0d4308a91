//! Okta Identity Governance against the simulator: every IGA type with its ids and references,
//! envelope paging over `-admin` next links, per-type skips, and delta behaviour.

use std::collections::{BTreeMap, BTreeSet};

use connector_api::{Change, ErrorKind, ImportRequest, Scope};
use fixtures::iga::{Failure, IgaData, IgaKind};
use fixtures::{FaultKind, OrgSpec, RateLimitProfile, Simulator, Trigger};
use serde_json::{Value, json};

use crate::support::{self, CANARY, Run};

/// Enough apps for governed and ungoverned ones (every fifth app, from the third, is not
/// governed) and enough groups for two governed ones (every twentieth).
fn org() -> OrgSpec {
    OrgSpec {
        users: 60,
        groups: 25,
        memberships: 120,
        apps: 8,
    }
}

/// IGA only (the core types are off), small pages so that lists span several pages.
fn iga_only(extra: Value) -> Value {
    let mut iga = json!({"Enabled": true, "PageSize": 7});
    if let (Some(base), Some(more)) = (iga.as_object_mut(), extra.as_object()) {
        base.extend(more.clone());
    }
    json!({"ImportUsers": false, "ImportGroups": false, "ImportMemberships": false, "Iga": iga})
}

fn data(sim: &Simulator) -> IgaData {
    sim.with_iga(|d| d.clone()).expect("IGA is enabled")
}

fn s<'v>(v: &'v Value, path: &str) -> &'v str {
    path.split('.')
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Ids of a kind's objects, split by whether their status says they are gone.
fn split(d: &IgaData, kind: IgaKind, gone: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut live = BTreeSet::new();
    let mut deleted = BTreeSet::new();
    for o in d.objects(kind) {
        let id = s(o, kind.id_field().unwrap_or("id")).to_owned();
        if s(o, "status") == gone {
            deleted.insert(id);
        } else {
            live.insert(id);
        }
    }
    (live, deleted)
}

fn set(ids: Vec<String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

fn skipped_scopes(run: &Run) -> BTreeMap<Scope, (String, ErrorKind)> {
    run.outcome()
        .skipped
        .iter()
        .map(|s| (s.scope.clone(), (s.reason.clone(), s.kind)))
        .collect()
}

#[tokio::test]
async fn every_iga_type_is_imported_with_ids_and_references() {
    let sim = support::start(org(), |_| {}).await;
    let d = data(&sim);
    let connector = support::connector(&sim, iga_only(json!({})));
    sim.reset_stats();
    let run = support::full(connector.as_ref()).await;
    let stats = sim.stats();

    // Org-level types: every id, DELETED ones as deletes.
    let (campaigns, deleted_campaigns) = split(&d, IgaKind::Campaigns, "DELETED");
    assert!(
        !deleted_campaigns.is_empty(),
        "the org has DELETED campaigns"
    );
    assert_eq!(run.upserted("IgaCampaign"), campaigns);
    assert_eq!(run.deleted("IgaCampaign"), deleted_campaigns);
    let (bundles, deleted_bundles) = split(&d, IgaKind::EntitlementBundles, "DELETED");
    assert_eq!(run.upserted("IgaEntitlementBundle"), bundles);
    assert_eq!(run.deleted("IgaEntitlementBundle"), deleted_bundles);
    for (object_type, kind) in [
        ("IgaLabel", IgaKind::Labels),
        ("IgaCollection", IgaKind::Collections),
        ("IgaRiskRule", IgaKind::RiskRules),
        ("IgaDelegate", IgaKind::Delegates),
        ("IgaRequestType", IgaKind::RequestTypes),
        ("IgaTeam", IgaKind::Teams),
        ("IgaRequest", IgaKind::Requests),
        ("IgaReview", IgaKind::Reviews),
        ("IgaEntitlement", IgaKind::Entitlements),
        ("IgaEntitlementValue", IgaKind::EntitlementValues),
        ("IgaGrant", IgaKind::Grants),
    ] {
        let expected = set(d.ids(kind));
        assert!(!expected.is_empty(), "{object_type}: the org has some");
        assert_eq!(run.upserted(object_type), expected, "{object_type}");
    }
    // Labels are keyed by labelId, not id.
    assert!(
        run.upserted("IgaLabel")
            .iter()
            .all(|id| id.starts_with("lbc"))
    );
    let top_level: BTreeSet<String> = d
        .objects(IgaKind::CatalogEntries)
        .into_iter()
        .filter(|e| s(e, "parent").is_empty())
        .map(|e| s(e, "id").to_owned())
        .collect();
    assert_eq!(run.upserted("IgaCatalogEntry"), top_level);
    let (conditions, deleted_conditions) = split(&d, IgaKind::RequestConditions, "DELETED");
    assert_eq!(run.upserted("IgaRequestCondition"), conditions);
    assert_eq!(run.deleted("IgaRequestCondition"), deleted_conditions);

    // References: reviews in their campaign's scope, grants and values pointing at their
    // resource, principal and entitlement, ORNs exactly as served.
    let reviews = run.upserts("IgaReview");
    for review in d.objects(IgaKind::Reviews) {
        let o = &reviews[s(review, "id")];
        assert_eq!(o.scope.as_deref(), Some(s(review, "campaignId")));
        assert_eq!(o.attributes["campaignId"], s(review, "campaignId"));
        assert_eq!(
            o.attributes["principalId"],
            s(review, "principalProfile.id")
        );
    }
    let grants = run.upserts("IgaGrant");
    for grant in d.objects(IgaKind::Grants) {
        let o = &grants[s(grant, "id")];
        let app = s(grant, "target.externalId");
        assert_eq!(
            o.scope.as_deref(),
            Some(format!("APPLICATION:{app}").as_str())
        );
        assert_eq!(o.attributes["resourceId"], app);
        assert_eq!(
            o.attributes["principalId"],
            s(grant, "targetPrincipal.externalId")
        );
        assert_eq!(
            o.attributes["targetResourceOrn"],
            s(grant, "targetResourceOrn")
        );
    }
    let values = run.upserts("IgaEntitlementValue");
    for value in d.objects(IgaKind::EntitlementValues) {
        let o = &values[s(value, "id")];
        assert_eq!(o.attributes["entitlementId"], s(value, "entitlementId"));
        assert_eq!(o.attributes["orn"], s(value, "orn"));
        assert_eq!(
            o.attributes["parentResourceOrn"],
            s(value, "parentResourceOrn")
        );
    }

    // Principal entitlements: <appId>:<userId>:<entitlementId> for every user holding grants.
    let principal: BTreeSet<String> = d
        .objects(IgaKind::PrincipalEntitlements)
        .into_iter()
        .map(|p| {
            format!(
                "{}:{}:{}",
                s(p, "parent.externalId"),
                s(p, "targetPrincipal.externalId"),
                s(p, "id")
            )
        })
        .collect();
    assert!(!principal.is_empty());
    assert_eq!(run.upserted("IgaPrincipalEntitlement"), principal);

    // Request sequences: one object per (resource, sequence).
    let mut sequences = BTreeSet::new();
    for r in d.apps().chain(d.groups()) {
        let kind = if r.id.starts_with("0oa") {
            "APPLICATION"
        } else {
            "GROUP"
        };
        for seq in d.objects_of(IgaKind::RequestSequences, &r.id) {
            sequences.insert(format!("{kind}:{}:{}", r.id, s(seq, "id")));
        }
    }
    assert!(!sequences.is_empty());
    assert_eq!(run.upserted("IgaRequestSequence"), sequences);

    // Resource owners: composite ids, for every resource whose owners were listed. Governed
    // apps always are (their ORN is copied from their entitlements); groups have no ORN.
    let completed: BTreeSet<Scope> = run.completed().into_iter().collect();
    let mut owners = BTreeSet::new();
    for app in d.apps() {
        let scope = Scope::within("IgaResourceOwner", format!("APPLICATION:{}", app.id));
        if app.governed {
            assert!(completed.contains(&scope), "{scope}");
        }
        if completed.contains(&scope) {
            for o in d.objects_of(IgaKind::ResourceOwners, &app.id) {
                owners.insert(format!(
                    "{}|{}",
                    s(o, "parentResourceOrn"),
                    s(o, "resource.orn")
                ));
            }
        }
    }
    assert!(!owners.is_empty());
    assert_eq!(run.upserted("IgaResourceOwner"), owners);

    // Ungoverned apps answer 400: skipped per resource, never completed; so is every
    // per-resource type as a whole.
    let skipped = skipped_scopes(&run);
    let ungoverned = d.ungoverned_app_ids();
    assert!(!ungoverned.is_empty());
    for app in &ungoverned {
        for t in [
            "IgaEntitlement",
            "IgaEntitlementValue",
            "IgaGrant",
            "IgaPrincipalEntitlement",
        ] {
            let scope = Scope::within(t, format!("APPLICATION:{app}"));
            assert!(
                skipped.contains_key(&scope),
                "{scope} skipped: {skipped:#?}"
            );
            assert!(!completed.contains(&scope));
        }
    }
    let (reason, kind) =
        &skipped[&Scope::within("IgaEntitlement", format!("APPLICATION:{}", ungoverned[0]))];
    assert_eq!(*kind, ErrorKind::NotSupported);
    assert!(
        reason.contains("400") && reason.contains("not under Okta Identity Governance"),
        "{reason}"
    );
    assert!(skipped.contains_key(&Scope::within("IgaResourceOwner", "GROUP:*")));
    for t in ["IgaEntitlement", "IgaGrant", "IgaResourceOwner"] {
        assert!(!completed.contains(&Scope::whole(t)), "{t}");
    }
    // Types read completely are complete as a whole.
    for t in [
        "IgaCampaign",
        "IgaReview",
        "IgaLabel",
        "IgaTeam",
        "IgaRequest",
        "IgaRequestSequence",
    ] {
        assert!(completed.contains(&Scope::whole(t)), "{t}");
    }

    // No core objects, no IGA request outside the configured origin, and the watermark is not
    // about IGA.
    assert_eq!(run.upsert_count("User") + run.upsert_count("Group"), 0);
    assert_eq!(stats.requests_by_bucket.get("/api/v1/users"), None);
    let governance: u64 = stats
        .requests_by_bucket
        .iter()
        .filter(|(b, _)| b.starts_with("/governance"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        governance
            + stats.requests_by_bucket["/api/v1/apps"]
            + stats.requests_by_bucket["/api/v1/groups"],
        stats.requests_total
    );
    assert_eq!(run.outcome().stats["requests"], stats.requests_total);
    println!(
        "IGA full run of an org with {} apps and {} groups: {} requests {:?}, {} pages, {} objects",
        d.apps().count(),
        d.groups().count(),
        stats.requests_total,
        stats.requests_by_bucket,
        stats.pages,
        stats.objects
    );
}

#[tokio::test]
async fn admin_host_next_links_are_followed_on_the_configured_origin() {
    let sim = support::start(org(), |_| {}).await;
    let connector = support::connector(
        &sim,
        iga_only(
            json!({"ObjectTypes": ["IgaCampaign", "IgaGrant", "IgaTeam"], "ResourceTypes": ["applications"], "PageSize": 2}),
        ),
    );
    sim.reset_stats();
    let run = support::full(connector.as_ref()).await;
    // Several pages per list: each page after the first came from a next link on
    // https://contoso-admin.okta.com, re-issued against the simulator.
    let pages: Vec<u64> = run
        .events("page_fetched")
        .iter()
        .filter(|r| r.fields["endpoint"] == "GET /governance/api/v1/campaigns")
        .map(|r| r.fields["page"].as_u64().unwrap())
        .collect();
    assert!(pages.len() >= 3, "campaign pages: {pages:?}");
    let d = data(&sim);
    assert_eq!(
        run.upserted("IgaCampaign").len() + run.deleted("IgaCampaign").len(),
        d.count(IgaKind::Campaigns)
    );
    assert_eq!(run.upserted("IgaTeam"), set(d.ids(IgaKind::Teams)));
    let stats = sim.stats();
    assert!(stats.requests_by_bucket["/governance/api/v1/*"] as usize >= pages.len());
    assert_eq!(stats.unauthorized, 0);

    // A next link to another host is refused: the run fails, the token goes nowhere else.
    sim.faults().inject(
        FaultKind::NextForeignHost,
        "/governance/api/v1/campaigns",
        Trigger::Next(1),
    );
    let run = support::import(connector.as_ref(), ImportRequest::full()).await;
    let err = run
        .result
        .as_ref()
        .expect_err("a foreign next link fails the run");
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("evil.example.com"), "{err}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(CANARY), "{shown}");
}

#[tokio::test]
async fn a_type_answering_403_and_a_resource_answering_400_are_skipped_and_the_rest_imported() {
    let sim = support::start(org(), |_| {}).await;
    sim.with_iga(|d| {
        d.disable(IgaKind::Campaigns, Failure::Forbidden);
        d.disable(IgaKind::Labels, Failure::FeatureNotEnabled);
        d.disable(IgaKind::Grants, Failure::Forbidden);
    })
    .unwrap();
    let d = data(&sim);
    let connector = support::connector(&sim, iga_only(json!({"ResourceTypes": ["applications"]})));
    let run = support::full(connector.as_ref()).await;
    let skipped = skipped_scopes(&run);
    let completed: BTreeSet<Scope> = run.completed().into_iter().collect();

    let (reason, kind) = &skipped[&Scope::whole("IgaCampaign")];
    assert_eq!(*kind, ErrorKind::PermissionDenied);
    assert!(
        reason.contains("403") && reason.contains("okta.governance.accessCertifications.read"),
        "{reason}"
    );
    assert!(reason.contains("ACCESS_CERTIFICATIONS_ADMIN"), "{reason}");
    let (reason, _) = &skipped[&Scope::whole("IgaReview")];
    assert!(reason.contains("campaigns could not be listed"), "{reason}");
    let (reason, kind) = &skipped[&Scope::whole("IgaLabel")];
    assert_eq!(*kind, ErrorKind::PermissionDenied);
    assert!(reason.contains("E0000015"), "{reason}");
    // A per-resource type answering 403 is skipped once, as a whole, not per app…
    let (reason, _) = &skipped[&Scope::whole("IgaGrant")];
    assert!(
        reason.contains("okta.governance.entitlements.read"),
        "{reason}"
    );
    assert_eq!(
        skipped
            .keys()
            .filter(|s| s.object_type == "IgaGrant")
            .count(),
        1
    );
    // …and principal entitlements, read for the users holding grants, are skipped per app.
    for app in d.governed_app_ids() {
        let scope = Scope::within("IgaPrincipalEntitlement", format!("APPLICATION:{app}"));
        assert!(skipped[&scope].0.contains("grants could not be read"));
    }
    for t in [
        "IgaCampaign",
        "IgaReview",
        "IgaLabel",
        "IgaGrant",
        "IgaPrincipalEntitlement",
    ] {
        assert!(run.upserted(t).is_empty(), "{t}");
        assert!(
            completed.iter().all(|s| s.object_type != t),
            "{t} completed"
        );
    }
    // Everything else is imported.
    assert_eq!(
        run.upserted("IgaEntitlement"),
        set(d.ids(IgaKind::Entitlements))
    );
    assert_eq!(run.upserted("IgaDelegate"), set(d.ids(IgaKind::Delegates)));
    assert!(completed.contains(&Scope::whole("IgaDelegate")));
    for app in d.governed_app_ids() {
        assert!(completed.contains(&Scope::within(
            "IgaEntitlement",
            format!("APPLICATION:{app}")
        )));
    }
    assert!(run.events("iga_skipped").len() >= skipped.len());
}

#[tokio::test]
async fn delta_runs_leave_iga_alone_unless_rescan_is_configured() {
    let sim = support::start(org(), |_| {}).await;
    let config = |rescan: bool| json!({"ImportMemberships": false, "Iga": {"Enabled": true, "RescanOnDelta": rescan, "ResourceTypes": ["applications"], "MaxResources": 3}});
    let connector = support::connector(&sim, config(false));
    let full = support::full(connector.as_ref()).await;
    assert!(!full.upserted("IgaCampaign").is_empty());
    // MaxResources caps the apps read: per-resource types are never complete as a whole.
    let apps: BTreeSet<String> = full
        .completed()
        .into_iter()
        .filter(|s| s.object_type == "IgaRequestSequence")
        .filter_map(|s| s.within)
        .collect();
    assert_eq!(apps.len(), 3, "{apps:?}");
    assert!(
        !full
            .completed()
            .contains(&Scope::whole("IgaRequestSequence"))
    );

    sim.reset_stats();
    let delta = support::delta(connector.as_ref(), &full).await;
    assert!(
        delta
            .changes
            .iter()
            .all(|c| !c.object_type().as_str().starts_with("Iga"))
    );
    assert_eq!(delta.events("iga_not_read").len(), 1);
    assert!(
        sim.stats()
            .requests_by_bucket
            .keys()
            .all(|b| !b.starts_with("/governance"))
    );
    assert_eq!(
        delta.outcome().watermark.is_some(),
        full.outcome().watermark.is_some()
    );

    let rescanning = support::connector(&sim, config(true));
    let delta = support::delta(rescanning.as_ref(), &full).await;
    assert_eq!(delta.upserted("IgaCampaign"), full.upserted("IgaCampaign"));
    assert_eq!(delta.upserted("IgaGrant"), full.upserted("IgaGrant"));
    // Sub-scopes re-read entirely are complete; whole types never are on a delta run.
    let completed = delta.completed();
    assert!(
        completed
            .iter()
            .any(|s| s.object_type == "IgaReview" && s.within.is_some())
    );
    assert!(completed.iter().all(|s| s.within.is_some()));
    assert!(
        delta
            .changes
            .iter()
            .any(|c| matches!(c, Change::ScopeComplete(s) if s.object_type == "IgaGrant"))
    );
}

#[tokio::test]
async fn a_default_iga_run_makes_exactly_the_requests_the_plan_needs() {
    let sim = support::start(org(), |_| {}).await;
    let d = data(&sim);
    let connector = support::connector(
        &sim,
        json!({"ImportUsers": false, "ImportGroups": false, "ImportMemberships": false, "Iga": {"Enabled": true}}),
    );
    sim.reset_stats();
    let run = support::full(connector.as_ref()).await;
    let stats = sim.stats();

    let pages = |n: usize| n.div_ceil(200).max(1) as u64;
    let org_level: u64 = [
        IgaKind::Campaigns,
        IgaKind::EntitlementBundles,
        IgaKind::Labels,
        IgaKind::Collections,
        IgaKind::RiskRules,
        IgaKind::Delegates,
        IgaKind::RequestTypes,
        IgaKind::Teams,
        IgaKind::Requests,
    ]
    .into_iter()
    .map(|k| {
        if k == IgaKind::Labels {
            1
        } else {
            pages(d.count(k))
        }
    })
    .sum::<u64>()
        + pages(
            d.objects(IgaKind::CatalogEntries)
                .iter()
                .filter(|e| s(e, "parent").is_empty())
                .count(),
        );
    let reviews: u64 = d
        .objects(IgaKind::Campaigns)
        .iter()
        .filter(|c| s(c, "status") != "DELETED")
        .map(|c| {
            let n = d
                .objects(IgaKind::Reviews)
                .iter()
                .filter(|r| s(r, "campaignId") == s(c, "id"))
                .count();
            pages(n)
        })
        .sum();
    let mut per_app = 0;
    let owner_scopes: BTreeSet<Scope> = run
        .completed()
        .into_iter()
        .chain(run.outcome().skipped.iter().map(|s| s.scope.clone()))
        .filter(|s| s.object_type == "IgaResourceOwner")
        .collect();
    for app in d.apps() {
        // Entitlements, values, grants, conditions, sequences; owners when an ORN is known.
        per_app += 1 + pages(d.objects_of(IgaKind::EntitlementValues, &app.id).len()) + 3;
        let owners = Scope::within("IgaResourceOwner", format!("APPLICATION:{}", app.id));
        per_app += u64::from(owner_scopes.contains(&owners));
        if app.governed {
            // One principal-entitlements request per user holding a grant.
            let users: BTreeSet<&str> = d
                .objects_of(IgaKind::Grants, &app.id)
                .iter()
                .map(|g| s(g, "targetPrincipal.externalId"))
                .collect();
            per_app += users.len() as u64;
        }
    }
    // Groups: entitlements, values, grants, conditions, sequences (no ORN for owners).
    let per_group = 5 * d.groups().count() as u64;
    let discovery = 2;
    let expected = org_level + reviews + discovery + per_app + per_group;
    assert_eq!(
        stats.requests_total, expected,
        "{:?}",
        stats.requests_by_bucket
    );
    println!(
        "IGA full run, default page size, {} apps and {} groups: {} requests = {org_level} org-level lists + \
         {reviews} review lists + {discovery} discovery + {per_app} per-app + {per_group} per-group; by bucket {:?}",
        d.apps().count(),
        d.groups().count(),
        stats.requests_total,
        stats.requests_by_bucket
    );
}

#[tokio::test]
async fn iga_buckets_are_paced_within_the_share_without_429s() {
    // Okta's Enterprise numbers (IGA v1 lists 50/min, v2 requests 30/min); a simulated minute
    // lasts 0.6 s, long enough for the run to use up its share of a window.
    let sim = support::start(org(), |c| {
        c.rate_limits = RateLimitProfile::Enterprise;
        c.time_scale = 100.0;
    })
    .await;
    let connector = support::connector(
        &sim,
        iga_only(
            json!({"ResourceTypes": ["applications"], "ObjectTypes": ["IgaGrant", "IgaPrincipalEntitlement"]}),
        ),
    );
    let run = support::full(connector.as_ref()).await;
    let stats = sim.stats();
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    let v1 = stats.requests_by_bucket["/governance/api/v1/*"];
    assert!(
        v1 > 50,
        "more IGA v1 requests ({v1}) than one window allows"
    );
    let waits: Vec<_> = run
        .events("rate_limit_wait")
        .into_iter()
        .filter(|r| r.fields["bucket"] == "/governance/api/v1/*" && r.fields["reason"] == "budget")
        .collect();
    assert!(!waits.is_empty(), "the IGA v1 bucket was paced");
    assert!(run.upserted("IgaGrant").len() > 10);
}

#[tokio::test]
async fn check_probes_the_governance_lists() {
    let sim = support::start(org(), |_| {}).await;
    sim.with_iga(|d| d.disable(IgaKind::RiskRules, Failure::Forbidden))
        .unwrap();
    let connector = support::connector(&sim, iga_only(json!({})));
    let (ctx, _) = connector_api::Context::for_tests();
    let report = connector.check(&ctx).await.expect("check passes");
    assert!(
        report
            .checks
            .iter()
            .any(|c| c.contains("IgaCampaign") && c.contains("/governance/api/v1/campaigns")),
        "{report:?}"
    );
    let warning = report
        .warnings
        .iter()
        .find(|w| w.starts_with("IgaRiskRule would be skipped"))
        .expect("a warning for the refused list");
    assert!(
        warning.contains("okta.governance.riskRule.read"),
        "{warning}"
    );
    // Without IGA the governance API is not touched.
    sim.reset_stats();
    let core = support::connector(&sim, json!({}));
    core.check(&ctx).await.unwrap();
    assert!(
        sim.stats()
            .requests_by_bucket
            .keys()
            .all(|b| !b.starts_with("/governance"))
    );
}
