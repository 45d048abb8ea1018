//! `FaaSClient`: executions, streams, snapshots and branches, instances and usage.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::error::{ApiError, Error, ErrorCode, ExecutionError, Result};
use crate::instances::Instances;
use crate::stream::ExecutionStream;
use crate::time::format_iso8601;
use crate::transport::{seg, Call, Transport};
use crate::types::*;

/// Where a client goes when given no endpoint and `FAAS_ENDPOINT` is unset.
pub const DEFAULT_ENDPOINT: &str = "http://127.0.0.1:8080";
/// Per-request timeout when given none (an execute adds its program's time limit).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Retries after the first attempt when given no number.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// An execute's program time limit when its request gives none (the gateway's default).
const DEFAULT_PROGRAM_TIMEOUT: Duration = Duration::from_secs(30);

/// A client of the operator's gateway. Cheap to clone (the clones share their connections);
/// `Send + Sync`, so one client can serve many threads.
#[derive(Clone)]
pub struct FaaSClient {
    pub(crate) t: Arc<Transport>,
}

impl std::fmt::Debug for FaaSClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("FaaSClient").field("endpoint", &self.t.endpoint).field("timeout", &self.t.timeout).field("max_retries", &self.t.max_retries).finish()
    }
}

/// Settings of a [`FaaSClient`]: `FaaSClient::builder().api_key(..).endpoint(..).timeout(..).max_retries(..).build()`.
#[derive(Debug, Clone)]
pub struct FaaSClientBuilder {
    api_key: Option<String>,
    endpoint: Option<String>,
    timeout: Duration,
    max_retries: u32,
    debug: bool,
}

impl FaaSClientBuilder {
    /// The API key (`faas_<id>_<secret>`); default: the `FAAS_API_KEY` environment variable.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The gateway's base URL; default: `FAAS_ENDPOINT`, then `http://127.0.0.1:8080`.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Per-request timeout (default 60 s; an execute waits this long on top of its program's time limit).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Retries after the first attempt (default 3; 0: none).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Writes one line per request to stderr: method, path, status, time (never the key or body).
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }

    /// The client; a validation error (field `endpoint` or `timeout`) for settings it cannot use.
    pub fn build(self) -> Result<FaaSClient> {
        let endpoint = self.endpoint.clone().or_else(|| std::env::var("FAAS_ENDPOINT").ok().filter(|e| !e.is_empty())).unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
        let invalid = |field: &str, message: String| Error::Validation(ApiError { field: Some(field.into()), ..ApiError::new(ErrorCode::ValidationError, message) });
        let rest = endpoint.strip_prefix("http://").or_else(|| endpoint.strip_prefix("https://"));
        match rest {
            Some(host) if !host.is_empty() && !host.starts_with('/') => {}
            _ => return Err(invalid("endpoint", format!("endpoint: expected an http(s) URL such as {}, got {:?}", DEFAULT_ENDPOINT, endpoint))),
        }
        if endpoint.starts_with("https://") && !cfg!(feature = "tls") {
            return Err(invalid("endpoint", "endpoint: https needs the faas-sdk crate's `tls` feature".into()));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout", "timeout: must be more than zero".into()));
        }
        Ok(self.build_unchecked(endpoint))
    }

    fn build_unchecked(self, endpoint: String) -> FaaSClient {
        let key = self.api_key.or_else(|| std::env::var("FAAS_API_KEY").ok());
        FaaSClient { t: Arc::new(Transport::new(endpoint, key, self.timeout, self.max_retries, self.debug)) }
    }
}

fn decode<T: DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::Internal(ApiError::new(ErrorCode::InternalError, format!("{}: unexpected answer ({})", what, e))))
}

/// The request as JSON, with `wait` and `interactive` as given.
fn execute_body(req: &ExecuteRequest, wait: Option<bool>, interactive: Option<bool>) -> Value {
    let mut body = serde_json::to_value(req).expect("an ExecuteRequest always serializes");
    let obj = body.as_object_mut().expect("an ExecuteRequest is an object");
    if let Some(w) = wait {
        obj.insert("wait".into(), Value::Bool(w));
    }
    if let Some(i) = interactive {
        obj.insert("interactive".into(), Value::Bool(i));
    }
    body
}

/// The execute rule: `Err(Execution)` when the program could not run, or (with
/// `throw_on_error`) exited non-zero; otherwise the result.
pub(crate) fn check_result(r: ExecutionResult, throw_on_error: bool) -> Result<ExecutionResult> {
    if let Some(failure) = r.failure {
        let tail: Vec<&str> = r.stderr.trim().lines().rev().take(3).collect();
        let mut summary: String = tail.into_iter().rev().collect::<Vec<_>>().join(" ");
        if summary.len() > 500 {
            let mut cut = 500;
            while !summary.is_char_boundary(cut) {
                cut -= 1;
            }
            summary.truncate(cut);
        }
        let name = match failure {
            Failure::Compile => "compile",
            Failure::Timeout => "timeout",
            Failure::Oom => "oom",
        };
        return Err(execution_error(format!("The program could not run ({}): {}", name, summary), r, Some(failure)));
    }
    if throw_on_error && r.exit_code != 0 {
        return Err(execution_error(format!("The program exited with {}", r.exit_code), r, None));
    }
    Ok(r)
}

fn execution_error(message: String, r: ExecutionResult, failure: Option<Failure>) -> Error {
    let mut details = serde_json::Map::new();
    details.insert("exitCode".into(), json!(r.exit_code));
    if let Some(f) = failure {
        details.insert("failure".into(), serde_json::to_value(f).unwrap_or(Value::Null));
    }
    Error::Execution(Box::new(ExecutionError {
        error: ApiError { details, ..ApiError::new(ErrorCode::ExecutionError, message) },
        stderr: r.stderr.clone(),
        exit_code: Some(r.exit_code),
        failure,
        result: Some(Box::new(r)),
    }))
}

impl FaaSClient {
    /// A client with this API key, for `FAAS_ENDPOINT` (or `http://127.0.0.1:8080`), with the
    /// default timeout (60 s) and retries (3). An unusable endpoint shows at the first call.
    pub fn new(api_key: impl Into<String>) -> FaaSClient {
        let b = FaaSClient::builder().api_key(api_key);
        b.clone().build().unwrap_or_else(|_| {
            let endpoint = std::env::var("FAAS_ENDPOINT").unwrap_or_else(|_| DEFAULT_ENDPOINT.to_string());
            b.build_unchecked(endpoint)
        })
    }

    /// A client with the key of `FAAS_API_KEY` (a missing key is an auth error at the first call).
    pub fn from_env() -> FaaSClient {
        FaaSClient::new(std::env::var("FAAS_API_KEY").unwrap_or_default())
    }

    pub fn builder() -> FaaSClientBuilder {
        FaaSClientBuilder { api_key: None, endpoint: None, timeout: DEFAULT_TIMEOUT, max_retries: DEFAULT_MAX_RETRIES, debug: false }
    }

    /// The gateway's base URL, without a trailing slash.
    pub fn endpoint(&self) -> &str {
        &self.t.endpoint
    }

    fn call<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        let what = format!("{} {}", call.method, call.path);
        decode(self.t.json(call)?, &what)
    }

    /// Any call of the API, as JSON (for routes this SDK has no method for). Retries as a GET
    /// or DELETE is retried; a POST only when it surely did not run.
    pub fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let mut call = Call::new(method, path);
        if let Some(b) = body {
            call = call.body(b);
        }
        self.t.json(call)
    }

    /// Runs code and returns its result: also for a program that exited non-zero (unless
    /// `throw_on_error`). [`Error::Execution`] when it could not run (syntax or compile error,
    /// time limit, out of memory), with its stderr and exit code. Sent with an
    /// `Idempotency-Key`, so a resend after a lost answer never runs it twice.
    pub fn execute(&self, req: &ExecuteRequest) -> Result<ExecutionResult> {
        let program = req.resources.as_ref().and_then(|r| r.timeout_ms).map(Duration::from_millis).unwrap_or(DEFAULT_PROGRAM_TIMEOUT);
        let call = Call::new("POST", "/v1/executions").body(execute_body(req, None, None)).idempotency_key().timeout(self.t.timeout + program);
        check_result(self.call(call)?, req.throw_on_error)
    }

    /// Starts an execution without waiting for it; returns its id (then [`FaaSClient::stream`]
    /// or [`FaaSClient::get_execution`]).
    pub fn start(&self, req: &ExecuteRequest) -> Result<String> {
        let call = Call::new("POST", "/v1/executions").body(execute_body(req, Some(false), None)).idempotency_key();
        Ok(self.call::<ExecutionInfo>(call)?.execution_id)
    }

    /// Status of an execution of this key, and its result once completed.
    pub fn get_execution(&self, execution_id: &str) -> Result<ExecutionInfo> {
        self.call(Call::new("GET", format!("/v1/executions/{}", seg(execution_id))))
    }

    /// Follows an execution's events (`GET /v1/executions/:id/events`): what it printed so far,
    /// then live, until `complete`. Another key's or an unknown id: [`Error::NotFound`].
    pub fn stream(&self, execution_id: &str) -> Result<ExecutionStream> {
        let reader = self.t.reader(Call::new("GET", format!("/v1/executions/{}/events", seg(execution_id))))?;
        Ok(ExecutionStream::new(execution_id.to_string(), reader, self.t.clone()))
    }

    /// Starts an execution and follows its events. It starts interactive unless the request
    /// says otherwise, so [`ExecutionStream::send_input`] reaches its stdin (close it with
    /// [`ExecutionStream::close_input`] when the program reads to the end).
    pub fn execute_stream(&self, req: &ExecuteRequest) -> Result<ExecutionStream> {
        let interactive = req.interactive.unwrap_or(true);
        let call = Call::new("POST", "/v1/executions").body(execute_body(req, Some(false), Some(interactive))).idempotency_key();
        let id = self.call::<ExecutionInfo>(call)?.execution_id;
        self.stream(&id)
    }

    /// Sends one message to a running execution (stdin, end of stdin, a terminal size, a
    /// kill); returns where the execution stands. Held until it runs; ignored once it ended.
    pub fn send_input(&self, execution_id: &str, input: &StreamInput) -> Result<ExecutionStatus> {
        let body = serde_json::to_value(input).expect("a StreamInput always serializes");
        let answer: Value = self.call(Call::new("POST", format!("/v1/executions/{}/input", seg(execution_id))).body(body))?;
        decode(answer.get("status").cloned().unwrap_or(Value::Null), "POST /v1/executions/:id/input")
    }

    // ---- snapshots and branches --------------------------------------------------------

    /// Snapshots a stateful context (the `execution_id` of a checkpointed, branched or
    /// persistent execution, or of a later run in it): its files and, for python, its memory.
    pub fn create_snapshot(&self, execution_id: &str) -> Result<SnapshotInfo> {
        self.call(Call::new("POST", "/v1/snapshots").body(json!({ "executionId": execution_id })))
    }

    pub fn list_snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let v: Value = self.call(Call::new("GET", "/v1/snapshots"))?;
        decode(v.get("snapshots").cloned().unwrap_or(Value::Null), "GET /v1/snapshots")
    }

    pub fn get_snapshot(&self, snapshot_id: &str) -> Result<SnapshotInfo> {
        self.call(Call::new("GET", format!("/v1/snapshots/{}", seg(snapshot_id))))
    }

    /// Deletes a snapshot (its stored files go when no other snapshot shares them).
    pub fn delete_snapshot(&self, snapshot_id: &str) -> Result<()> {
        self.t.json(Call::new("DELETE", format!("/v1/snapshots/{}", seg(snapshot_id)))).map(|_| ())
    }

    /// A new context with the snapshot's files and memory: run code in it with its `execution_id`.
    pub fn restore_snapshot(&self, snapshot_id: &str) -> Result<RestoreInfo> {
        self.call(Call::new("POST", format!("/v1/snapshots/{}/restore", seg(snapshot_id))).body(json!({})))
    }

    /// A new, independent context from a snapshot; branches of one snapshot can be merged.
    pub fn create_branch(&self, snapshot_id: &str) -> Result<BranchInfo> {
        self.call(Call::new("POST", "/v1/branches").body(json!({ "snapshotId": snapshot_id })))
    }

    /// Merges branches of one snapshot into a new snapshot (memory from that snapshot). Paths
    /// changed differently are [`Error::MergeConflict`] unless the strategy is `Ours` (the
    /// earlier branch in the list wins) or `Theirs` (the later one).
    pub fn merge_branches<S: AsRef<str>>(&self, branch_ids: &[S], strategy: Option<MergeStrategy>) -> Result<MergeInfo> {
        let ids: Vec<&str> = branch_ids.iter().map(AsRef::as_ref).collect();
        let mut body = json!({ "branchIds": ids });
        if let Some(s) = strategy {
            body["strategy"] = serde_json::to_value(s).expect("a strategy always serializes");
        }
        self.call(Call::new("POST", "/v1/branches/merge").body(body))
    }

    // ---- instances and usage -------------------------------------------------------------

    /// Persistent instances: start, get, list, stop, pause, resume, SSH, exposed ports, exec.
    pub fn instances(&self) -> Instances<'_> {
        Instances { client: self }
    }

    /// The key's usage: current totals and per-day metrics.
    pub fn usage(&self) -> UsageApi<'_> {
        UsageApi { client: self }
    }

    pub(crate) fn call_json<T: DeserializeOwned>(&self, call: Call<'_>) -> Result<T> {
        self.call(call)
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.t.timeout
    }
}

/// `client.usage()`.
#[derive(Debug, Clone, Copy)]
pub struct UsageApi<'a> {
    client: &'a FaaSClient,
}

impl<'a> UsageApi<'a> {
    /// Totals so far, credit and balance, rate limit left, executions running.
    pub fn current(&self) -> Result<CurrentUsage> {
        self.client.call(Call::new("GET", "/v1/usage/current"))
    }

    /// Totals over a period (ISO dates `2026-11-01` or date-times; default: the last 30 days),
    /// with one row per UTC day.
    pub fn metrics(&self, start_date: Option<&str>, end_date: Option<&str>) -> Result<UsageMetrics> {
        self.client.call(Call::new("GET", "/v1/usage/metrics").query("startDate", start_date).query("endDate", end_date))
    }

    /// [`UsageApi::metrics`] between two instants.
    pub fn metrics_between(&self, start: SystemTime, end: SystemTime) -> Result<UsageMetrics> {
        self.metrics(Some(&format_iso8601(start)), Some(&format_iso8601(end)))
    }
}
