//! Stream-triggered functions (the mailer and the notifier, on the Outbox table's stream):
//! each new item of a batch is handed over, and the records whose handling failed are
//! reported as batch item failures, so Lambda retries only those (and, after its retries,
//! sends them to the dead-letter queue).

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::error::AppError;

/// Runs `handle` on the new image of every INSERT record that `mine` accepts, in order.
pub async fn each_insert<F, Fut>(
    event: Event,
    mine: impl Fn(&serde_dynamo::Item) -> bool,
    mut handle: F,
) -> DynamoDbEventResponse
where
    F: FnMut(serde_dynamo::Item) -> Fut,
    Fut: Future<Output = Result<(), AppError>>,
{
    let mut failures = Vec::new();
    for record in event.records {
        if record.event_name != "INSERT" || !mine(&record.change.new_image) {
            continue;
        }
        let sequence = record.change.sequence_number.clone();
        if let Err(error) = handle(record.change.new_image).await {
            error.log();
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            failures.push(failure);
        }
    }
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}
