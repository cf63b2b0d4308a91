//! Executes a [`Plan`]: streams users, groups and group members into the host's sink.
//!
//! Three stages run at once, each in its own Okta rate-limit bucket: the user listing, the group
//! listing, and the member listings (up to `MaxConcurrency` groups at a time, fed by the group
//! listing as it pages). Every page becomes one batch on a small bounded channel that a
//! forwarder drains into the sink, so memory stays bounded by a few pages whatever the org's
//! size, and a slow sink slows the readers down. Per stage, order is kept: a group's
//! `ScopeComplete` follows its last member, `User`'s follows the last user.
//!
//! A System Log delta reads the log first (`syslog/`): its verdicts decide which changed
//! groups' member lists are read, and its changes go to the sink after the stages, leaving out
//! the groups whose member lists were read in full.
//!
//! The access stage (`access/`: apps, assignments, roles, factors, group rules) runs beside
//! them, re-reading each enabled type completely. The IGA stage (`iga/`) runs beside them in
//! its own buckets and reports what it skipped
//! per object type; any other failure fails the run: the error is returned and no watermark
//! with it.

use std::sync::Arc;

use std::collections::HashSet;

use connector_api::{
    Change, ChangeKind, ChangeSink, ConnectorError, Context, ErrorKind, ImportOutcome,
    ImportRequest, Result, Scope,
};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};

use crate::client::OktaClient;
use crate::config::Config;
use crate::endpoints::{groups, members};
use crate::mapping::{self, Batches, GROUP, GROUP_MEMBER, Outgoing, USER};
use crate::plan::{MemberPlan, Plan};
use crate::syslog::{self, LogDelta, Targets};
use crate::telemetry::{
    GroupVanished, ObjectsEmitted, RunFinished, RunStarted, RunTelemetry, WatermarkAdvanced,
};
use crate::watermark::{self, OktaWatermark};
use chrono::DateTime;

/// Pages buffered between the readers and the sink.
const PAGES_IN_FLIGHT: usize = 4;
/// Group ids buffered between the group listing and the member readers.
const GROUP_QUEUE: usize = 1_024;
/// Groups the member stage holds to pick the largest from (a group id and a count each, a few
/// MB at most); beyond this the group listing waits.
const MAX_PENDING_GROUPS: usize = 65_536;

/// A group whose members are to be read, with its member count if Okta said.
type QueuedGroup = (String, Option<u64>);

/// Runs one import.
///
/// # Errors
/// Any failure of a request, the sink, the watermark or cancellation.
pub async fn import(
    client: &Arc<OktaClient>,
    config: &Config,
    ctx: &Context,
    request: ImportRequest,
    sink: &mut dyn ChangeSink,
) -> Result<ImportOutcome> {
    let plan = Plan::new(config, &request)?;
    let tel = Arc::new(RunTelemetry::new(ctx));
    let started = client.clock.now();
    let mode = request.mode.to_string();
    tel.emit(&RunStarted {
        mode: &mode,
        org: &config.org_domain,
        plan: plan.describe(),
    });

    let cancel = ctx.cancellation().clone();
    let by_member = request.accepts(ChangeKind::DeleteWhere);
    let log = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(cancelled()),
        r = read_log(client, &plan, &tel) => r?,
    };
    let (batches, received) = mpsc::channel::<Outgoing>(PAGES_IN_FLIGHT);
    let (group_ids, group_queue) = mpsc::channel::<QueuedGroup>(GROUP_QUEUE);
    let stages = Stages {
        client,
        config,
        plan: &plan,
        tel: &tel,
        log: log.as_ref().map(|(d, _)| d),
        by_member,
    };
    let work = futures::future::try_join5(
        stages.users(batches.clone()),
        stages.groups(batches.clone(), group_ids),
        stages.members(batches.clone(), group_queue),
        futures::future::try_join(
            crate::iga::run(client, config, request.mode, &tel, batches.clone()),
            crate::access::run(client, config, request.mode, &tel, batches),
        ),
        forward(received, sink, ctx),
    );
    let (users_date, (groups_date, read_in_full), (), (skipped, ()), ()) = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(cancelled()),
        r = work => r?,
    };

    if let Some((delta, _)) = &log {
        send_log_changes(config, &tel, delta, &read_in_full, by_member, sink, ctx).await?;
    }
    let dates = [users_date, groups_date, log.as_ref().map(|(_, d)| *d)];
    let next = next_watermark(&plan.previous, config, dates);
    log_advances(&tel, &plan.previous, &next);
    let stats = tel.stats();
    tel.emit(&RunFinished {
        mode: &mode,
        elapsed: client.clock.now().saturating_duration_since(started),
        stats: &stats,
    });
    Ok(ImportOutcome::new()
        .with_watermark(Some(next.to_watermark()))
        .with_skipped(skipped)
        .with_stats(stats))
}

/// Reads the System Log if the plan says so, checking the log cursor is not ahead of Okta.
async fn read_log(
    client: &OktaClient,
    plan: &Plan,
    tel: &RunTelemetry,
) -> Result<Option<(LogDelta, i64)>> {
    let Some(since) = plan.log_since else {
        return Ok(None);
    };
    let (delta, date) = syslog::read(client, tel, since).await?;
    plan.check_not_ahead("l", plan.previous.l, date)?;
    Ok(Some((delta, date)))
}

/// The watermark after a run whose users, groups and log listings started at these server
/// `Date`s (`None`: not read; the other keys are carried over, except `l`, which only a
/// System Log delta writes).
fn next_watermark(
    previous: &OktaWatermark,
    config: &Config,
    [users, groups, log]: [Option<i64>; 3],
) -> OktaWatermark {
    let mut next = previous.clone();
    if let Some(date) = users {
        next.u = Some(watermark::high_water(date, config.delta_safety_margin));
    }
    if let Some(date) = groups {
        next.g = Some(watermark::high_water(date, config.delta_safety_margin));
    }
    next.l = log.and_then(|date| DateTime::from_timestamp(date, 0));
    next
}

/// Sends what the log says changed (see [`LogDelta::changes`]), counted per type.
async fn send_log_changes(
    config: &Config,
    tel: &RunTelemetry,
    delta: &LogDelta,
    read_in_full: &HashSet<String>,
    by_member: bool,
    sink: &mut dyn ChangeSink,
    ctx: &Context,
) -> Result<()> {
    let targets = Targets {
        users: config.import_users,
        groups: config.import_groups,
        memberships: config.import_memberships,
        external_id: config.external_id,
    };
    let changes = delta.changes(targets, read_in_full, by_member)?;
    if changes.is_empty() {
        return Ok(());
    }
    for c in &changes {
        match c {
            Change::Upsert(o) => tel.count_objects(o.object_type.as_str(), 1, 0),
            Change::Delete { object_type, .. } | Change::DeleteWhere { object_type, .. } => {
                tel.count_objects(object_type.as_str(), 0, 1);
            }
            _ => {}
        }
    }
    if ctx.is_cancelled() {
        return Err(cancelled());
    }
    sink.send(changes).await
}

fn log_advances(tel: &RunTelemetry, from: &OktaWatermark, to: &OktaWatermark) {
    for (key, before, after) in [
        ("u", from.u, to.u),
        ("g", from.g, to.g),
        ("l", from.l, to.l),
    ] {
        if let Some(after) = after
            && before != Some(after)
        {
            let before = before.map(watermark::format);
            tel.emit(&WatermarkAdvanced {
                key,
                from: before.as_deref(),
                to: &watermark::format(after),
            });
        }
    }
}

/// Hands batches to the sink, one at a time, stopping as soon as the run is cancelled.
async fn forward(
    mut received: mpsc::Receiver<Outgoing>,
    sink: &mut dyn ChangeSink,
    ctx: &Context,
) -> Result<()> {
    while let Some(batch) = received.next().await {
        if ctx.is_cancelled() {
            return Err(cancelled());
        }
        match batch {
            Outgoing::Changes(changes) => sink.send(changes).await?,
            Outgoing::Encoded(lines) => sink.send_encoded(lines).await?,
        }
    }
    Ok(())
}

fn cancelled() -> ConnectorError {
    ConnectorError::cancelled("the import was cancelled; no watermark was advanced")
}

async fn send(batches: &mut Batches, batch: impl Into<Outgoing>) -> Result<()> {
    batches
        .send(batch.into())
        .await
        .map_err(|_| ConnectorError::internal("the change forwarder stopped early"))
}

/// The server's `Date` of a listing's first page: the base of its high-water mark.
fn first_date(date: Option<i64>, endpoint: &str) -> Result<i64> {
    date.ok_or_else(|| {
        ConnectorError::protocol(format!(
            "{endpoint} answered without a Date header, so no safe watermark can be computed"
        ))
        .with_remediation(
            "Check for a proxy that strips the Date header between this machine and Okta",
        )
    })
}

struct Stages<'a> {
    client: &'a Arc<OktaClient>,
    config: &'a Config,
    plan: &'a Plan,
    tel: &'a Arc<RunTelemetry>,
    /// What the System Log says (System Log deltas only).
    log: Option<&'a LogDelta>,
    /// Whether the host deletes a user's memberships by member id (`delete_where`).
    by_member: bool,
}

impl Stages<'_> {
    /// Lists users; returns the server `Date` of the first page.
    async fn users(&self, mut batches: Batches) -> Result<Option<i64>> {
        let Some(query) = &self.plan.users else {
            return Ok(None);
        };
        let mut pager = query.pager(self.client.http.origin(), self.config.page_size);
        let mut started_at = None;
        while let Some(page) = pager.next_page(self.client, self.tel).await? {
            if started_at.is_none() {
                let date = first_date(page.date, crate::endpoints::users::ENDPOINT)?;
                self.plan.check_not_ahead("u", self.plan.previous.u, date)?;
                started_at = Some(date);
            }
            let mut batch = Vec::with_capacity(page.items.len());
            let mut deletes = 0;
            for user in page.items {
                let change = mapping::user::to_change(
                    user,
                    self.config.external_id,
                    self.config.access.custom_attributes,
                )?;
                if let Change::Delete { .. } = change {
                    deletes += 1;
                }
                batch.push(change);
            }
            self.tel
                .count_objects(USER, batch.len() as u64 - deletes, deletes);
            if !batch.is_empty() {
                send(&mut batches, batch).await?;
            }
        }
        let complete = self.plan.completes_types();
        if complete {
            send(
                &mut batches,
                vec![Change::ScopeComplete(Scope::whole(USER))],
            )
            .await?;
        }
        let (upserts, deletes) = self.tel.objects(USER);
        self.tel.emit(&ObjectsEmitted {
            object_type: USER,
            upserts,
            deletes,
            complete,
        });
        Ok(started_at)
    }

    /// Whether the members of `group` are read in full: the plan says so and the System Log
    /// (if read) does not explain the change.
    fn reads_members_of(&self, group: &groups::OktaGroup) -> bool {
        self.plan.reads_members_of(group)
            && !self.log.is_some_and(|l| l.explains(group, self.by_member))
    }

    /// Lists groups, emits them (if imported) and queues the groups whose members are read.
    /// Returns the server `Date` of the first page and the queued groups.
    async fn groups(
        &self,
        mut batches: Batches,
        mut group_ids: mpsc::Sender<QueuedGroup>,
    ) -> Result<(Option<i64>, HashSet<String>)> {
        let mut queued = HashSet::new();
        let Some(changed_after) = self.plan.groups else {
            return Ok((None, queued));
        };
        let origin = self.client.http.origin();
        let limit = self.config.group_page_size;
        let mut pager = match &self.plan.group_search {
            Some(expr) => groups::search_pager(origin, limit, expr, changed_after),
            None => groups::pager(origin, limit, changed_after),
        };
        let mut started_at = None;
        while let Some(page) = pager.next_page(self.client, self.tel).await? {
            if started_at.is_none() {
                let date = first_date(page.date, groups::ENDPOINT)?;
                self.plan.check_not_ahead("g", self.plan.previous.g, date)?;
                started_at = Some(date);
            }
            let wanted: Vec<QueuedGroup> = page
                .items
                .iter()
                .filter(|g| self.reads_members_of(g))
                .map(|g| (g.id.clone(), g.members_count()))
                .collect();
            queued.extend(wanted.iter().map(|(id, _)| id.clone()));
            if self.plan.emit_groups && !page.items.is_empty() {
                let batch: Vec<Change> = page.items.iter().map(mapping::group::to_change).collect();
                self.tel.count_objects(GROUP, batch.len() as u64, 0);
                // The groups go out before their ids are queued, so a member reader's
                // "group vanished" delete always follows the group's upsert.
                send(&mut batches, batch).await?;
            }
            for group in wanted {
                group_ids
                    .send(group)
                    .await
                    .map_err(|_| ConnectorError::internal("the member readers stopped early"))?;
            }
        }
        drop(group_ids);
        if self.plan.emit_groups {
            let complete = self.plan.completes_group_types();
            if complete {
                send(
                    &mut batches,
                    vec![Change::ScopeComplete(Scope::whole(GROUP))],
                )
                .await?;
            }
            let (upserts, deletes) = self.tel.objects(GROUP);
            self.tel.emit(&ObjectsEmitted {
                object_type: GROUP,
                upserts,
                deletes,
                complete,
            });
        }
        Ok((started_at, queued))
    }

    /// Reads the members of every queued group, `MaxConcurrency` groups at a time, the largest
    /// waiting group first ([`LargestFirst`]). Each group is read by its own task, so decoding
    /// large member pages spreads over the runtime's threads; a failed or cancelled run aborts
    /// the tasks still running.
    async fn members(
        &self,
        batches: Batches,
        mut group_queue: mpsc::Receiver<QueuedGroup>,
    ) -> Result<()> {
        if self.plan.members == MemberPlan::Skip {
            // Nothing is ever queued; wait for the group stage to close the queue.
            group_queue.for_each(|_| async {}).await;
            return Ok(());
        }
        let reader = MemberReader {
            client: self.client.clone(),
            tel: self.tel.clone(),
            page_size: self.config.member_page_size,
            emit_groups: self.plan.emit_groups,
        };
        let max = self.config.max_concurrency as usize;
        let mut waiting = LargestFirst::default();
        let mut running = futures::stream::FuturesUnordered::new();
        let mut listing_open = true;
        loop {
            while running.len() < max {
                let Some(group_id) = waiting.pop() else { break };
                running.push(Spawned(tokio::spawn(
                    reader.clone().read(group_id, batches.clone()),
                )));
            }
            // Nothing running means nothing waiting either (the loop above started it).
            if !listing_open && running.is_empty() {
                break;
            }
            tokio::select! {
                // Take every group the listing has delivered before choosing the next one.
                biased;
                next = group_queue.next(), if listing_open && waiting.len() < MAX_PENDING_GROUPS => {
                    match next {
                        Some((id, members)) => waiting.push(id, members),
                        None => listing_open = false,
                    }
                }
                Some(done) = running.next(), if !running.is_empty() => done?,
            }
        }
        let mut batches = batches;
        let complete = self.plan.completes_group_types();
        if complete {
            send(
                &mut batches,
                vec![Change::ScopeComplete(Scope::whole(GROUP_MEMBER))],
            )
            .await?;
        }
        let (upserts, deletes) = self.tel.objects(GROUP_MEMBER);
        self.tel.emit(&ObjectsEmitted {
            object_type: GROUP_MEMBER,
            upserts,
            deletes,
            complete,
        });
        Ok(())
    }
}

/// The member stage's waiting groups, largest first: a group's pages can only be read one
/// after another (Okta's cursor can't be split), so a huge group started late would trail the
/// rest of the run at one page per round trip while the rate-limit budget goes unused. Started
/// first, its pages overlap everything else. Among equal counts (or none known): listing order.
#[derive(Debug, Default)]
struct LargestFirst {
    heap: std::collections::BinaryHeap<(u64, std::cmp::Reverse<u64>, String)>,
    arrivals: u64,
}

impl LargestFirst {
    fn push(&mut self, group_id: String, members: Option<u64>) {
        self.arrivals += 1;
        self.heap.push((
            members.unwrap_or(0),
            std::cmp::Reverse(self.arrivals),
            group_id,
        ));
    }

    fn pop(&mut self) -> Option<String> {
        self.heap.pop().map(|(_, _, id)| id)
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// Reads one group's member list; owns what it needs so it can run as its own task.
#[derive(Clone)]
struct MemberReader {
    client: Arc<OktaClient>,
    tel: Arc<RunTelemetry>,
    page_size: u32,
    emit_groups: bool,
}

impl MemberReader {
    /// Reads one group's members completely, then marks the group's scope complete.
    async fn read(self, group_id: String, mut batches: Batches) -> Result<()> {
        let mut pager = members::pager(self.client.http.origin(), &group_id, self.page_size);
        loop {
            match pager.next_page(&self.client, &self.tel).await {
                Ok(Some(page)) => {
                    if page.items.is_empty() {
                        continue;
                    }
                    let mut lines = Vec::with_capacity(page.items.len() * 200);
                    for m in &page.items {
                        mapping::member::encode(&group_id, &m.id, &mut lines);
                    }
                    self.tel
                        .count_objects(GROUP_MEMBER, page.items.len() as u64, 0);
                    send(&mut batches, Outgoing::Encoded(lines)).await?;
                }
                Ok(None) => break,
                Err(e)
                    if e.kind() == ErrorKind::NotFound
                        && e.vendor().and_then(|v| v.status) == Some(404) =>
                {
                    // Deleted after the group listing saw it: it has no members any more.
                    self.tel.emit(&GroupVanished { group: &group_id });
                    if self.emit_groups {
                        self.tel.count_objects(GROUP, 0, 1);
                        send(&mut batches, vec![Change::delete(GROUP, group_id.clone())]).await?;
                    }
                    break;
                }
                Err(e) => {
                    return Err(e.context(format_args!("reading the members of group {group_id}")));
                }
            }
        }
        send(
            &mut batches,
            vec![Change::ScopeComplete(Scope::within(GROUP_MEMBER, group_id))],
        )
        .await
    }
}

/// A spawned task that is aborted when dropped (a failed or cancelled run stops its readers).
struct Spawned(tokio::task::JoinHandle<Result<()>>);

impl Drop for Spawned {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::future::Future for Spawned {
    type Output = Result<()>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<()>> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(|joined| {
            joined.unwrap_or_else(|e| {
                Err(ConnectorError::internal(format!(
                    "a member reader stopped unexpectedly: {e}"
                )))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LargestFirst;

    #[test]
    fn largest_group_first_then_listing_order() {
        let mut q = LargestFirst::default();
        q.push("00g-small".into(), Some(3));
        q.push("00g-unknown".into(), None);
        q.push("00g-huge".into(), Some(100_000));
        q.push("00g-tie-a".into(), Some(50));
        q.push("00g-tie-b".into(), Some(50));
        assert_eq!(q.len(), 5);
        let order: Vec<String> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [
                "00g-huge",
                "00g-tie-a",
                "00g-tie-b",
                "00g-small",
                "00g-unknown"
            ]
        );
    }

    #[test]
    fn without_counts_the_listing_order_is_kept() {
        let mut q = LargestFirst::default();
        for id in ["00g3", "00g1", "00g2"] {
            q.push(id.into(), None);
        }
        let order: Vec<String> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, ["00g3", "00g1", "00g2"]);
    }
}
