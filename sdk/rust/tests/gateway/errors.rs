//! Typed errors from the real gateway: validation (with its field), auth, not found (another
//! key's), resource limits, conflicts, rate limits (with reset_at).

use std::time::{Duration, Instant, SystemTime};

use faas_sdk::{Error, ErrorCode, ExecuteRequest, FaaSClient, Language, Mode, Resources};
use serde_json::json;

use crate::common::{client, client2, env};

#[test]
fn a_bad_request_is_a_validation_error_naming_its_field() {
    let c = client();
    let cases: Vec<(ExecuteRequest, &str)> = vec![
        (ExecuteRequest::new("PROGRAM-ID. HELLO.", Language::Other("cobol".into())), "language"),
        (ExecuteRequest::new("print(1)", "python").resources(Resources { memory_mb: Some(1), ..Default::default() }), "resources.memoryMb"),
        (ExecuteRequest::new("print(1)", "python").env("1BAD", "x"), "envVars"),
        (ExecuteRequest::new("print(1)", "python").file("../escape.txt", "x"), "files"),
    ];
    for (req, field) in cases {
        match c.execute(&req) {
            Err(Error::Validation(e)) => {
                assert_eq!(e.code, ErrorCode::ValidationError);
                assert_eq!(e.status, Some(400));
                // A record key at fault is named under its record (`files["../escape.txt"]`).
                let named = e.field.as_deref().unwrap_or_default();
                assert!(named == field || named.starts_with(&format!("{}[", field)) || named.starts_with(&format!("{}.", field)), "{}: {}", named, e.message);
            }
            other => panic!("{}: expected a validation error, got {:?}", field, other),
        }
    }
    // An unknown field is named itself (through the raw call).
    let err = c.request("POST", "/v1/executions", Some(json!({ "code": "print(1)", "language": "python", "colour": "blue" }))).unwrap_err();
    assert!(matches!(err, Error::Validation(_)), "{:?}", err);
    assert_eq!(err.field(), Some("colour"));
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.to_string(), format!("[VALIDATION_ERROR] {}", err.message()));
    // The client's own settings.
    let bad = FaaSClient::builder().api_key("k").endpoint("ftp://example").build().unwrap_err();
    assert_eq!((bad.code(), bad.field(), bad.status()), (ErrorCode::ValidationError, Some("endpoint"), None));
}

#[test]
fn more_than_the_operator_offers_is_resource_unavailable() {
    let err = client().execute(&ExecuteRequest::new("print(1)", "python").resources(Resources { gpu_count: Some(1), ..Default::default() })).unwrap_err();
    match &err {
        Error::ResourceUnavailable(e) => {
            assert_eq!(e.status, Some(422));
            assert_eq!(e.field.as_deref(), Some("resources.gpuCount"));
        }
        other => panic!("expected RESOURCE_UNAVAILABLE, got {:?}", other),
    }
}

#[test]
fn an_unknown_or_missing_key_is_an_auth_error() {
    let e = env();
    let bad = FaaSClient::builder().api_key("faas_nope_nope").endpoint(&e.endpoint).build().unwrap();
    match bad.usage().current() {
        Err(Error::Auth(a)) => {
            assert_eq!(a.status, Some(401));
            assert_eq!(a.code, "AUTH_ERROR");
        }
        other => panic!("expected an auth error, got {:?}", other),
    }
    // Building a client without a key is fine; calling it is an auth error on the client side.
    let keyless = FaaSClient::builder().api_key("").endpoint(&e.endpoint).build().unwrap();
    let err = keyless.execute(&ExecuteRequest::new("print(1)", "python")).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{:?}", err);
    assert_eq!(err.status(), None);
    assert!(err.message().contains("FAAS_API_KEY"), "{}", err.message());
}

#[test]
fn another_keys_execution_is_not_found() {
    let mine = client().execute(&ExecuteRequest::new("print('mine')", "python").mode(Mode::Cached)).unwrap();
    for err in
        [client2().get_execution(&mine.execution_id).unwrap_err(), client2().stream(&mine.execution_id).unwrap_err(), client().get_execution("no-such-execution").unwrap_err()]
    {
        match err {
            Error::NotFound(e) => {
                assert_eq!(e.status, Some(404));
                assert_eq!(e.code, ErrorCode::NotFound);
            }
            other => panic!("expected NOT_FOUND, got {:?}", other),
        }
    }
    assert_eq!(client().get_execution(&mine.execution_id).unwrap().result.unwrap().stdout, "mine\n");
}

#[test]
fn over_the_rate_limit_is_a_rate_limit_error_with_reset_at_and_retries_wait_for_it() {
    // The only test with the limited key (3 requests per short window). No retries first: a
    // retry would wait for the window to reopen instead of showing the error.
    let e = env();
    let limited = FaaSClient::builder().api_key(&e.limited_key).endpoint(&e.endpoint).max_retries(0).build().unwrap();
    let err = (0..10).find_map(|_| limited.usage().current().err()).expect("the fourth call in the window is refused");
    let r = match &err {
        Error::RateLimit(r) => r.clone(),
        other => panic!("expected a rate limit error, got {:?}", other),
    };
    assert_eq!(err.code(), ErrorCode::RateLimitExceeded);
    assert_eq!(err.status(), Some(429));
    assert!(err.is_retryable());
    assert!(r.reset_at > SystemTime::now(), "reset_at is in the future");
    assert!(matches!(r.retry_after, Some(d) if d > Duration::ZERO), "{:?}", r.retry_after);
    assert!(r.reset_in() <= Duration::from_secs(6), "{:?}", r.reset_in());

    // With retries, the same call waits for the window to reopen and then succeeds.
    let patient = FaaSClient::builder().api_key(&e.limited_key).endpoint(&e.endpoint).max_retries(2).build().unwrap();
    let remaining = r.reset_in();
    let started = Instant::now();
    let usage = patient.usage().current().expect("answered once the window reopened");
    assert_eq!(usage.rate_limit.limit, 3);
    assert!(started.elapsed() + Duration::from_millis(500) >= remaining, "waited {:?} of {:?}", started.elapsed(), remaining);
}

#[test]
fn quota_and_credit_answers_are_typed_errors() {
    // The gateway's bodies for a per-key quota (403) and an exhausted balance (402), as it sends them.
    let body = json!({ "code": "QUOTA_EXCEEDED", "message": "instances: this key already has 4 instances", "details": { "quota": "instances" } });
    match Error::from_response(403, Some(&body), None) {
        Error::QuotaExceeded(q) => assert_eq!((q.quota.as_str(), q.error.status, q.error.code), ("instances", Some(403), ErrorCode::QuotaExceeded)),
        other => panic!("expected QUOTA_EXCEEDED, got {:?}", other),
    }
    let broke = Error::from_response(402, Some(&json!({ "code": "INSUFFICIENT_CREDIT", "message": "balance 0" })), None);
    assert!(matches!(broke, Error::InsufficientCredit(_)), "{:?}", broke);
    assert_eq!((broke.code().http_status(), broke.is_retryable()), (402, false));
    assert!(matches!(Error::from_response(402, None, None), Error::InsufficientCredit(_)));
}
