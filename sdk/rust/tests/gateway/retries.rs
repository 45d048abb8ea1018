//! Retries: a refused connection, a lost answer (the execute is resent with the same
//! Idempotency-Key and the gateway answers with the same execution, run once), a POST that may
//! have run (not resent), and no answer in time — through a real fault proxy in front of the
//! real gateway.

use std::time::{Duration, Instant};

use faas_sdk::{Error, ErrorCode, ExecuteRequest, FaaSClient, Mode};

use crate::common::{closed_port, env, Fault, FaultProxy};

fn via(url: &str, retries: u32, timeout: Duration) -> FaaSClient {
    FaaSClient::builder().api_key(env().key).endpoint(url).max_retries(retries).timeout(timeout).build().unwrap()
}

#[test]
fn a_refused_connection_is_retried_with_back_off_then_a_connection_error() {
    let url = format!("http://127.0.0.1:{}", closed_port());
    let started = Instant::now();
    let err = via(&url, 2, Duration::from_secs(5)).execute(&ExecuteRequest::new("print(1)", "python")).unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Connection(_)), "{:?}", err);
    assert_eq!((err.code(), err.status()), (ErrorCode::InternalError, None));
    // Two waits: 0.1-0.2 s, then 0.2-0.4 s.
    assert!(elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(5), "{:?}", elapsed);

    let started = Instant::now();
    assert!(matches!(via(&url, 0, Duration::from_secs(5)).get_execution("x"), Err(Error::Connection(_))));
    assert!(started.elapsed() < Duration::from_millis(100), "no retries, no wait: {:?}", started.elapsed());
}

#[test]
fn a_lost_execute_answer_is_resent_with_the_same_idempotency_key_and_runs_once() {
    let proxy = FaultProxy::start(Fault::LoseAnswers(1));
    let r = via(&proxy.url, 2, Duration::from_secs(60)).execute(&ExecuteRequest::new("print(6 * 7)", "python").mode(Mode::Cached)).unwrap();
    assert_eq!(r.stdout, "42\n");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 2, "the lost answer and the resend");
    let key = seen[0].header("idempotency-key").expect("execute carries an Idempotency-Key");
    assert_eq!(key.len(), 32);
    assert_eq!(seen[1].header("idempotency-key").as_deref(), Some(key.as_str()));
    // The answer that was lost named the very execution the resend got: it ran once.
    assert_eq!(seen[0].answer_json()["executionId"].as_str(), Some(r.execution_id.as_str()));
    // Each call has its own key.
    let again = FaultProxy::start(Fault::LoseAnswers(0));
    let c = via(&again.url, 0, Duration::from_secs(60));
    let (a, b) =
        (c.execute(&ExecuteRequest::new("print(1)", "python").mode(Mode::Cached)).unwrap(), c.execute(&ExecuteRequest::new("print(1)", "python").mode(Mode::Cached)).unwrap());
    assert_ne!(a.execution_id, b.execution_id);
    let keys: Vec<_> = again.seen().iter().map(|s| s.header("idempotency-key")).collect();
    assert!(keys[0].is_some() && keys[0] != keys[1], "{:?}", keys);
}

#[test]
fn a_post_that_may_have_run_is_not_resent_but_a_get_is() {
    let proxy = FaultProxy::start(Fault::LoseAnswers(1));
    let err = via(&proxy.url, 3, Duration::from_secs(30)).create_snapshot("no-such-context").unwrap_err();
    assert!(matches!(err, Error::Connection(_)), "{:?}", err);
    assert!(err.message().contains("not resent"), "{}", err.message());
    assert_eq!(proxy.seen().len(), 1);
    assert_eq!(proxy.seen()[0].header("idempotency-key"), None);

    let proxy = FaultProxy::start(Fault::LoseAnswers(1));
    let usage = via(&proxy.url, 3, Duration::from_secs(30)).usage().current().unwrap();
    assert!(usage.rate_limit.limit > 0);
    assert_eq!(proxy.seen().len(), 2);
}

#[test]
fn no_answer_in_time_is_a_client_side_timeout() {
    let proxy = FaultProxy::start(Fault::Hold);
    let started = Instant::now();
    let err = via(&proxy.url, 0, Duration::from_secs(1)).usage().current().unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{:?}", err);
    assert_eq!((err.code(), err.status()), (ErrorCode::Timeout, None));
    assert!(started.elapsed() >= Duration::from_millis(900) && started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    // A GET is resent after a timeout.
    let err = via(&proxy.url, 1, Duration::from_secs(1)).usage().current().unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{:?}", err);
    assert_eq!(proxy.seen().len(), 3);
}
