//! `UserFactor`: every user as the user stage lists them (same `UserSearchFilter`), then one
//! request per user for its factors, `MaxConcurrency` users at a time; each user's scope is
//! completed once read. A DEPROVISIONED user (emitted as a delete) gets its scope completed
//! empty without a request, so its factors go with it.

use connector_api::{Change, Result, Scope};
use futures::TryStreamExt;

use super::{Reader, vanished};
use crate::endpoints::factors;
use crate::endpoints::users::UserQuery;
use crate::mapping::{Batches, USER_FACTOR};

impl Reader {
    /// Every listed user's factors.
    pub(super) async fn factors(&self, mut batches: Batches) -> Result<()> {
        if !self.config.access.factors {
            return Ok(());
        }
        let query = UserQuery {
            search: self.config.user_search_filter.clone(),
            updated_after: None,
        };
        let mut pager = query.pager(self.origin(), self.config.page_size);
        let max = self.config.max_concurrency as usize;
        while let Some(page) = pager.next_page(&self.client, &self.tel).await? {
            let mut gone = Vec::new();
            let mut live = Vec::new();
            for u in page.items {
                if u.status.as_deref() == Some("DEPROVISIONED") {
                    gone.push(Change::ScopeComplete(Scope::within(USER_FACTOR, u.id)));
                } else {
                    live.push(u.id);
                }
            }
            super::send(&mut batches, gone).await?;
            futures::stream::iter(live.into_iter().map(Ok))
                .try_for_each_concurrent(max, |id| self.clone().factors_of(id, batches.clone()))
                .await?;
        }
        if self.full {
            self.complete(&mut batches, Scope::whole(USER_FACTOR))
                .await?;
        }
        self.emitted(USER_FACTOR, self.full);
        Ok(())
    }

    /// One user's factors, completed in the user's scope; a user deleted meanwhile (404) is
    /// left alone.
    async fn factors_of(self, user_id: String, mut batches: Batches) -> Result<()> {
        let mut pager = factors::pager(self.origin(), &user_id);
        loop {
            match pager.next_page(&self.client, &self.tel).await {
                Ok(Some(page)) => {
                    let batch = page
                        .items
                        .iter()
                        .map(|v| crate::mapping::access::user_factor(&user_id, v))
                        .collect::<Result<Vec<_>>>()?;
                    self.emit(&mut batches, USER_FACTOR, batch).await?;
                }
                Ok(None) => break,
                Err(e) if vanished(&e) => return Ok(()),
                Err(e) => {
                    return Err(e.context(format_args!("reading the factors of user {user_id}")));
                }
            }
        }
        self.complete(&mut batches, Scope::within(USER_FACTOR, user_id))
            .await
    }
}
