//! The services catalog, read from the `catalog` index and kept for a minute per process:
//! every answer of this function compares a holder with every service, and services change
//! rarely (an operator edits them).

use shared::AppError;
use shared::domain::service::Service;
use shared::store::Services;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;

pub struct Catalog {
    services: Services,
    /// How long a read catalog is used (`CATALOG_CACHE_SECONDS`, default 60; the tests, which
    /// create services and ask at once, use 0).
    keep: Duration,
    kept: Mutex<Option<(OffsetDateTime, Arc<Vec<Service>>)>>,
}

impl Catalog {
    pub fn new(services: Services, keep: Duration) -> Self {
        Self {
            services,
            keep,
            kept: Mutex::default(),
        }
    }

    pub async fn all(&self, now: OffsetDateTime) -> Result<Arc<Vec<Service>>, AppError> {
        let mut kept = self.kept.lock().await;
        if let Some((at, services)) = kept.as_ref()
            && now >= *at
            && now - *at < self.keep
        {
            return Ok(services.clone());
        }
        let services = Arc::new(self.services.catalog().await?);
        *kept = Some((now, services.clone()));
        Ok(services)
    }
}
