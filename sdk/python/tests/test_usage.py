"""Usage and metrics from the real gateway."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from faas_sdk import FaaSClient


def test_current_usage_counts_up_after_an_execution(client: FaaSClient) -> None:
    before = client.usage.get_current()
    client.execute("print('count me')", "python")
    after = client.usage.get_current()
    assert after.executions >= before.executions + 1
    assert after.cpu_seconds >= before.cpu_seconds
    assert after.cost >= before.cost
    assert after.rate_limit.limit > 0
    assert after.rate_limit.remaining < after.rate_limit.limit
    assert after.rate_limit.window_ms > 0
    assert after.rate_limit.reset_at is not None
    assert after.prices


def test_metrics_have_totals_and_daily_entries(client: FaaSClient) -> None:
    client.execute("print('metered')", "python")
    today = datetime.now(timezone.utc).date()
    metrics = client.usage.get_metrics(today - timedelta(days=2), today + timedelta(days=1))
    assert metrics.executions >= 1
    assert metrics.daily, metrics
    assert sum(d.executions for d in metrics.daily) == metrics.executions
    assert today.isoformat() in {d.date[:10] for d in metrics.daily}
    assert metrics.start_date and metrics.end_date


def test_metrics_accept_date_times(client: FaaSClient) -> None:
    client.execute("echo metered", "bash")
    now = datetime.now(timezone.utc)
    metrics = client.usage.get_metrics(now - timedelta(hours=1), now + timedelta(hours=1))
    assert metrics.executions >= 1
    assert all(isinstance(date.fromisoformat(d.date[:10]), date) for d in metrics.daily)
