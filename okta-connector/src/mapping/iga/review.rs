//! An IGA review → an `IgaReview` object in the scope of the campaign it was listed for;
//! external id = its `id`; references `campaignId`, `resourceId`, `principalId`, `reviewerId`.

use connector_api::{Change, Result};
use serde_json::Value;

use super::{IgaType, fields, object, reference, required, text};

/// The change for one review listed with `filter=campaignId eq "<campaign_id>"`.
///
/// # Errors
/// A protocol error when the item is not an object or has no `id`.
pub fn to_change(item: Value, campaign_id: &str) -> Result<Change> {
    let t = IgaType::Review;
    let map = fields(t, item)?;
    let id = required(t, &map, "id")?.to_owned();
    let principal = text(&map, "principalProfile.id").map(str::to_owned);
    let reviewer = text(&map, "reviewerProfile.id").map(str::to_owned);
    let resource = text(&map, "resourceId").map(str::to_owned);
    let mut obj = object(t, id, map)
        .in_scope(campaign_id)
        .with("campaignId", campaign_id);
    reference(&mut obj, "resourceId", resource.as_deref());
    reference(&mut obj, "principalId", principal.as_deref());
    reference(&mut obj, "reviewerId", reviewer.as_deref());
    Ok(Change::Upsert(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_recorded_reviews() {
        for item in super::super::recorded::items("reviews") {
            let id = item["id"].as_str().unwrap().to_owned();
            let campaign = item["campaignId"].as_str().unwrap().to_owned();
            let principal = item["principalProfile"]["id"].clone();
            let reviewer = item["reviewerProfile"]["id"].clone();
            let Change::Upsert(o) = to_change(item, &campaign).unwrap() else {
                panic!("upsert expected")
            };
            assert_eq!(o.external_id, id);
            assert_eq!(o.scope.as_deref(), Some(campaign.as_str()));
            assert_eq!(o.attributes["campaignId"], campaign);
            assert_eq!(o.attributes["principalId"], principal);
            // Group and resource-owner reviews have no single reviewer profile.
            assert_eq!(o.attributes["reviewerId"], reviewer);
            assert!(o.attributes["resourceId"].is_string());
        }
    }
}
