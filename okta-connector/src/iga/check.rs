//! `check` for IGA (when `Iga.Enabled`): one page of one item from every org-level list that
//! is imported, so a missing feature, role or scope shows up before the first run.

use connector_api::{CheckReport, Result};

use super::endpoints::pager;
use super::org_level;
use super::skip::{reach, reason};
use super::target::Target;
use crate::client::OktaClient;
use crate::config::Config;
use crate::telemetry::RunTelemetry;

/// Probes the imported org-level lists. Lists that answer 400/401 `E0000015`/403/404/405
/// become warnings with the run's skip reason; anything else fails the check.
///
/// # Errors
/// As a run: an invalid token, rate limits after retries, 5xx, protocol errors.
pub async fn check(
    client: &OktaClient,
    config: &Config,
    tel: &RunTelemetry,
    report: &mut CheckReport,
) -> Result<()> {
    let iga = &config.iga;
    if !iga.enabled {
        return Ok(());
    }
    let origin = client.http.origin();
    for t in org_level().filter(|t| iga.imports(*t)) {
        let spec = t.spec();
        let mut list = pager(spec, origin, Target::Org, 1)?;
        match list.next_page(client, tel).await {
            Ok(_) => report.checks.push(format!(
                "the token may list {} ({})",
                t.name(),
                spec.endpoint
            )),
            Err(e) if reach(&e).is_some() => {
                let skip = reason(t, None, &e);
                report
                    .warnings
                    .push(format!("{} would be skipped: {}", t.name(), skip.reason));
            }
            Err(e) => return Err(e.context(format_args!("checking {}", t.name()))),
        }
    }
    Ok(())
}
