//! `App`, `AppUser` and `AppGroup`: the app list (read for either switch), then each app's
//! user and group assignments, `MaxConcurrency` apps at a time.

use connector_api::{Result, Scope};
use futures::TryStreamExt;

use super::{Reader, vanished};
use crate::endpoints::{app_assignments, apps};
use crate::mapping::{self, APP, APP_GROUP, APP_USER, Batches, ORG_SCOPE};

impl Reader {
    /// Lists apps (emitting them with `ImportApps`), then reads their assignments with
    /// `ImportAppAssignments`.
    pub(super) async fn apps(&self, mut batches: Batches) -> Result<()> {
        let access = &self.config.access;
        if !access.reads_apps() {
            return Ok(());
        }
        let mut pager = apps::pager(self.origin());
        let mut ids = Vec::new();
        while let Some(page) = pager.next_page(&self.client, &self.tel).await? {
            if access.apps {
                let batch = page.items.iter().map(mapping::app::app).collect();
                self.emit(&mut batches, APP, batch).await?;
            }
            ids.extend(page.items.into_iter().map(|a| a.id));
        }
        if access.apps {
            self.complete(&mut batches, Scope::within(APP, ORG_SCOPE))
                .await?;
            self.emitted(APP, true);
        }
        if !access.app_assignments {
            return Ok(());
        }
        let max = self.config.max_concurrency as usize;
        futures::stream::iter(ids.into_iter().map(Ok))
            .try_for_each_concurrent(max, |id| self.clone().assignments_of(id, batches.clone()))
            .await?;
        for t in [APP_USER, APP_GROUP] {
            if self.full {
                self.complete(&mut batches, Scope::whole(t)).await?;
            }
            self.emitted(t, self.full);
        }
        Ok(())
    }

    /// One app's user assignments, then its group assignments, each completed in the app's
    /// scope once read to the end; an app deleted meanwhile (404) is left alone.
    async fn assignments_of(self, app_id: String, mut batches: Batches) -> Result<()> {
        let mut users = app_assignments::users_pager(self.origin(), &app_id);
        let mut groups = app_assignments::groups_pager(self.origin(), &app_id);
        for (pager, object_type) in [(&mut users, APP_USER), (&mut groups, APP_GROUP)] {
            loop {
                let page = match pager.next_page(&self.client, &self.tel).await {
                    Ok(Some(page)) => page,
                    Ok(None) => break,
                    Err(e) if vanished(&e) => return Ok(()),
                    Err(e) => {
                        return Err(
                            e.context(format_args!("reading the assignments of app {app_id}"))
                        );
                    }
                };
                let batch = page
                    .items
                    .iter()
                    .map(|v| match object_type {
                        APP_USER => mapping::app::app_user(&app_id, v),
                        _ => mapping::app::app_group(&app_id, v),
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.emit(&mut batches, object_type, batch).await?;
            }
            self.complete(&mut batches, Scope::within(object_type, app_id.clone()))
                .await?;
        }
        Ok(())
    }
}
