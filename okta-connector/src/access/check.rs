//! `check` for the access switches and `GroupSearchFilter`: one request per enabled switch,
//! so a missing scope or role (403) shows before the first run.

use connector_api::{CheckReport, Result};

use crate::client::OktaClient;
use crate::config::Config;
use crate::endpoints::users::UserQuery;
use crate::endpoints::{apps, factors, group_rules, groups, roles};
use crate::telemetry::RunTelemetry;

/// Probes what the access switches will read.
///
/// # Errors
/// The first probe's failure (a 403 names the scope and role the switch needs; a rejected
/// `GroupSearchFilter` is `invalid_config`).
pub async fn check(
    client: &OktaClient,
    config: &Config,
    tel: &RunTelemetry,
    report: &mut CheckReport,
) -> Result<()> {
    let origin = client.http.origin();
    let a = &config.access;
    if let Some(expr) = &a.group_search_filter {
        let page = groups::search_pager(origin, 1, expr, None)
            .next_page(client, tel)
            .await?;
        report
            .checks
            .push(format!("Okta accepts GroupSearchFilter \"{expr}\""));
        if page.is_some_and(|p| p.items.is_empty()) {
            report.warnings.push(format!(
                "GroupSearchFilter \"{expr}\" matches no group: no group or membership would be imported"
            ));
        }
    }
    if a.reads_apps() {
        apps::pager(origin).next_page(client, tel).await?;
        report
            .checks
            .push("the token may list apps (GET /api/v1/apps)".to_owned());
    }
    if a.roles {
        roles::assignees_pager(origin)
            .next_page(client, tel)
            .await?;
        report.checks.push(
            "the token may read admin role assignments (GET /api/v1/iam/assignees/users)"
                .to_owned(),
        );
    }
    if a.factors {
        let query = UserQuery {
            search: config.user_search_filter.clone(),
            updated_after: None,
        };
        let first = query.pager(origin, 1).next_page(client, tel).await?;
        if let Some(user) = first.and_then(|p| p.items.into_iter().next()) {
            factors::pager(origin, &user.id)
                .next_page(client, tel)
                .await?;
            report.checks.push(
                "the token may read MFA factors (GET /api/v1/users/{userId}/factors)".to_owned(),
            );
        }
    }
    if a.group_rules {
        group_rules::pager(origin).next_page(client, tel).await?;
        report
            .checks
            .push("the token may list group rules (GET /api/v1/groups/rules)".to_owned());
    }
    Ok(())
}
