//! Revocation notices (api.md): one per listed service that has a `revocation_endpoint`,
//! written to the outbox in the revocation's own transaction, delivered by the notifier.

use shared::AppError;
use shared::domain::certificate::{CertificateRecord, RevocationNotice, RevocationReason};
use shared::store::tx::Write;

use crate::State;

/// The outbox writes that notify every service `record` lists of its revocation at
/// `revoked_at`. Each notice gets its id now, so every retry of it carries the same one.
pub async fn for_revocation(
    state: &State,
    record: &CertificateRecord,
    reason: RevocationReason,
    revoked_at: &str,
) -> Result<Vec<Write>, AppError> {
    let now = state.clock.now();
    let mut writes = Vec::new();
    for service in state.services.many(&record.services).await? {
        let Some(endpoint) = service.draft.revocation_endpoint.as_deref() else {
            continue;
        };
        let notice = RevocationNotice {
            notice_id: shared::ids::opaque("ntc_"),
            serial: record.serial.clone(),
            service_id: service.service_id.clone(),
            revoked_at: revoked_at.to_owned(),
            reason,
        };
        writes.push(state.outbox.notice_write(&notice, endpoint, now)?);
    }
    Ok(writes)
}
