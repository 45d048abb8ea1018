//! Usage of the calling key: current totals and per-day metrics.

use std::time::{Duration, SystemTime};

use faas_sdk::{format_iso8601, Error, ExecuteRequest, FaaSClient, Mode};

use crate::common::env;

#[test]
fn current_usage_and_metrics_count_this_keys_executions() {
    // A key of its own would need the operator's CLI; the suite's first key has run executions
    // in parallel tests, so counts are compared before and after, as lower bounds.
    let e = env();
    let c = FaaSClient::builder().api_key(&e.key).endpoint(&e.endpoint).timeout(Duration::from_secs(90)).build().unwrap();
    let before = c.usage().current().unwrap();
    c.execute(&ExecuteRequest::new("print(sum(i * i for i in range(200000)))", "python").mode(Mode::Cached)).unwrap();
    let now = c.usage().current().unwrap();
    assert!(now.executions > before.executions, "{} then {}", before.executions, now.executions);
    assert!(now.cpu_seconds > 0.0 && now.memory_gb_seconds > 0.0 && now.cost > 0.0, "{:?}", now);
    assert!((now.balance - (now.credit - now.cost)).abs() < 1e-6, "{:?}", now);
    assert!(now.rate_limit.limit > 0 && now.rate_limit.remaining < now.rate_limit.limit, "{:?}", now.rate_limit);
    assert!(now.rate_limit.window_ms > 0 && now.rate_limit.max_concurrent > 0);
    assert!(faas_sdk::parse_iso8601(&now.rate_limit.reset_at).is_some(), "{}", now.rate_limit.reset_at);
    assert!(now.prices.per_execution >= 0.0 && now.prices.per_cpu_second >= 0.0 && now.prices.per_gb_second >= 0.0);

    let m = c.usage().metrics(None, None).unwrap();
    assert!(m.executions >= now.executions, "{} < {}", m.executions, now.executions);
    assert!(m.start_date < m.end_date, "{} .. {}", m.start_date, m.end_date);
    let today = &format_iso8601(SystemTime::now())[..10];
    let row = m.daily.iter().find(|d| d.date.starts_with(today)).unwrap_or_else(|| panic!("a row for {} in {:?}", today, m.daily));
    assert!(row.executions >= 1 && row.cost > 0.0);
    let daily_total: u64 = m.daily.iter().map(|d| d.executions).sum();
    assert_eq!(daily_total, m.executions);

    let day = Duration::from_secs(86_400);
    let window = c.usage().metrics_between(SystemTime::now() - day, SystemTime::now() + day).unwrap();
    assert!(window.executions >= 1);
    let old = c.usage().metrics(Some("2001-01-01"), Some("2001-01-31")).unwrap();
    assert_eq!((old.executions, old.cost), (0, 0.0));

    match c.usage().metrics(Some("yesterday"), None) {
        Err(Error::Validation(v)) => assert_eq!(v.field.as_deref(), Some("startDate")),
        other => panic!("expected a validation error, got {:?}", other),
    }
}
