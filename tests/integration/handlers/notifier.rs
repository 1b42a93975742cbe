//! `events/notifier/`: DynamoDB stream events of the Outbox table carrying revocation notices,
//! handed to the notifier's `handle` as Lambda would, delivering to a local receiver.

use aws_lambda_events::event::dynamodb::Event as StreamEvent;
use integration_tests::pki::Receiver;
use integration_tests::stack;

use super::event;

async fn notifier() -> notifier::State {
    let stack = stack().await;
    let env = stack.function_env("NotifierFunction");
    notifier::State::from_env(&env, &stack.sdk, stack.clock.clone())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_inserted_notice_is_posted_signed_and_a_malformed_one_is_a_batch_failure() {
    let state = notifier().await;
    let receiver = Receiver::start().await;
    let batch: StreamEvent = event!("notifier/insert.json")
        .with("NOTICE_ENDPOINT", &receiver.url)
        .with("SERVICE_ID", "svc_abcdefghijklmnopqrst")
        .json();
    let response = notifier::handle(&state, batch).await;
    assert!(response.batch_item_failures.is_empty());
    let delivered = receiver.deliveries();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0, "application/jwt");
    // Three base64url parts; the payload names the notice of the event.
    let payload = delivered[0].1.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["notice_id"], "ntc_examplenotice0000001");
    assert_eq!(claims["aud"], "svc_abcdefghijklmnopqrst");

    let batch: StreamEvent = event!("notifier/malformed.json").json();
    let response = notifier::handle(&state, batch).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [Some("200000000000000000002".to_owned())]);
}

#[tokio::test]
async fn a_failing_endpoint_is_reported_for_lambda_to_retry() {
    let state = notifier().await;
    let receiver = Receiver::start().await;
    receiver.answer_with(500);
    let batch: StreamEvent = event!("notifier/insert.json")
        .with("NOTICE_ENDPOINT", &receiver.url)
        .with("SERVICE_ID", "svc_abcdefghijklmnopqrst")
        .json();
    let response = notifier::handle(&state, batch).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    // Tried a few times within the invocation before giving it back.
    assert_eq!(receiver.deliveries().len(), 3);
}
