//! The org-level IGA lists, one after the other in table order, then the reviews of every
//! campaign that is not gone (scope = campaign id).

use connector_api::{ErrorKind, Result, Scope};

use super::endpoints::pager;
use super::mapping::to_change;
use super::skip::{Skip, reason};
use super::target::Target;
use super::{IgaStage, org_level};
use crate::okta::iga::IgaType;

/// The ids of the campaigns whose reviews are read, or why there are none.
type Campaigns = std::result::Result<Vec<String>, Skip>;

impl IgaStage<'_> {
    pub(super) async fn org_level(&mut self) -> Result<()> {
        let wants_reviews = self.iga.imports(IgaType::Review);
        let mut campaigns: Campaigns = Err(Skip {
            reason: "campaigns were not listed".to_owned(),
            kind: ErrorKind::Internal,
        });
        for t in org_level() {
            let emit = self.iga.imports(t);
            let needed = emit || (t == IgaType::Campaign && wants_reviews);
            if needed {
                let listed = self.org_list(t, emit).await?;
                if t == IgaType::Campaign {
                    campaigns = listed;
                }
            }
        }
        if wants_reviews {
            self.reviews(campaigns).await?;
        }
        Ok(())
    }

    /// Reads one org-level list; returns the ids of the live items (the campaigns whose
    /// reviews are read), or why the list was skipped.
    async fn org_list(&mut self, t: IgaType, emit: bool) -> Result<Campaigns> {
        let gone = t.spec().gone;
        let list = pager(t.spec(), self.origin, Target::Org, self.iga.page_size)?;
        let mut live = Vec::new();
        let read = self
            .read_all(list, t, emit, |item| {
                let status = item["status"].as_str().unwrap_or_default();
                if t == IgaType::Campaign
                    && !gone.contains(&status)
                    && let Some(id) = item["id"].as_str()
                {
                    live.push(id.to_owned());
                }
                to_change(t, item, Target::Org)
            })
            .await?;
        let listed = match read {
            Ok(()) => Ok(live),
            Err(err) => {
                let skip = reason(t, None, &err);
                if emit {
                    self.types.entry(t).or_default().failed = Some(skip.clone());
                    self.skip(Scope::whole(t.name()), skip.clone());
                }
                Err(skip)
            }
        };
        if emit {
            self.finish(t, true).await?;
        }
        Ok(listed)
    }

    async fn reviews(&mut self, campaigns: Campaigns) -> Result<()> {
        let t = IgaType::Review;
        match campaigns {
            Err(failed) => {
                let skip = Skip {
                    reason: format!(
                        "reviews are listed per campaign, and the campaigns could not be listed: {}",
                        failed.reason
                    ),
                    kind: failed.kind,
                };
                self.types.entry(t).or_default().failed = Some(skip.clone());
                self.skip(Scope::whole(t.name()), skip);
            }
            Ok(ids) => {
                for campaign in ids {
                    let target = Target::Campaign(&campaign);
                    let pagers = vec![(
                        pager(t.spec(), self.origin, target, self.iga.page_size)?,
                        campaign.clone(),
                    )];
                    self.read_scope(t, &campaign, true, pagers, |item, campaign| {
                        to_change(t, item, Target::Campaign(campaign))
                    })
                    .await?;
                }
            }
        }
        self.finish(t, true).await
    }
}
