//! Typed errors, mirroring the gateway's error table (`src/errors.ts`).
//!
//! Every error the SDK returns is an [`Error`] whose variant is chosen by the server's `code`
//! (not by the HTTP status, so a code keeps its variant whatever status it travels with).
//! Each variant carries an [`ApiError`] with the `code`, the server's `message`, the HTTP
//! `status` (`None` when the error arose on the client: no connection, no answer in time, no
//! API key), the request `field` at fault when the server named one, and any other `details`.
//! Three variants carry more: [`ExecutionError`] (stderr, exit code, why it could not run),
//! [`RateLimitError`] (`reset_at`) and [`MergeConflictError`] (the conflicting paths).

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::time::parse_iso8601;
use crate::types::{ExecutionResult, Failure};

/// The result type of every SDK call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The server's error codes (`ERROR_CODES` in `src/errors.ts`), with their HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    ValidationError,
    ResourceUnavailable,
    QueueFull,
    NotImplemented,
    NotFound,
    AuthError,
    RateLimitExceeded,
    ExecutionError,
    Timeout,
    SandboxError,
    ShuttingDown,
    InternalError,
    Conflict,
    MergeConflict,
    QuotaExceeded,
    InsufficientCredit,
}

impl ErrorCode {
    /// Every code, in the order of the server's table.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::ValidationError,
        ErrorCode::ResourceUnavailable,
        ErrorCode::QueueFull,
        ErrorCode::NotImplemented,
        ErrorCode::NotFound,
        ErrorCode::AuthError,
        ErrorCode::RateLimitExceeded,
        ErrorCode::ExecutionError,
        ErrorCode::Timeout,
        ErrorCode::SandboxError,
        ErrorCode::ShuttingDown,
        ErrorCode::InternalError,
        ErrorCode::Conflict,
        ErrorCode::MergeConflict,
        ErrorCode::QuotaExceeded,
        ErrorCode::InsufficientCredit,
    ];

    /// The code as the server writes it (`"VALIDATION_ERROR"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::ResourceUnavailable => "RESOURCE_UNAVAILABLE",
            ErrorCode::QueueFull => "QUEUE_FULL",
            ErrorCode::NotImplemented => "NOT_IMPLEMENTED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AuthError => "AUTH_ERROR",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::ExecutionError => "EXECUTION_ERROR",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::SandboxError => "SANDBOX_ERROR",
            ErrorCode::ShuttingDown => "SHUTTING_DOWN",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::MergeConflict => "MERGE_CONFLICT",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::InsufficientCredit => "INSUFFICIENT_CREDIT",
        }
    }

    /// The code for its name, if it is one of the server's.
    pub fn parse(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// The HTTP status the gateway answers this code with (`HTTP_STATUS_OF_CODE`).
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::ValidationError => 400,
            ErrorCode::ResourceUnavailable => 422,
            ErrorCode::QueueFull => 503,
            ErrorCode::NotImplemented => 501,
            ErrorCode::NotFound => 404,
            ErrorCode::AuthError => 401,
            ErrorCode::RateLimitExceeded => 429,
            ErrorCode::ExecutionError => 422,
            ErrorCode::Timeout => 504,
            ErrorCode::SandboxError => 500,
            ErrorCode::ShuttingDown => 503,
            ErrorCode::InternalError => 500,
            ErrorCode::Conflict => 409,
            ErrorCode::MergeConflict => 409,
            ErrorCode::QuotaExceeded => 403,
            ErrorCode::InsufficientCredit => 402,
        }
    }

    /// Whether the same request may succeed later as it is (`RETRYABLE_CODES`): nothing was started.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorCode::QueueFull | ErrorCode::RateLimitExceeded | ErrorCode::ShuttingDown)
    }

    /// The code an answer without a usable error body stands for (`CODE_OF_STATUS`).
    pub fn of_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::ValidationError,
            401 => ErrorCode::AuthError,
            402 => ErrorCode::InsufficientCredit,
            404 => ErrorCode::NotFound,
            409 => ErrorCode::Conflict,
            429 => ErrorCode::RateLimitExceeded,
            501 => ErrorCode::NotImplemented,
            504 => ErrorCode::Timeout,
            s if s >= 500 => ErrorCode::InternalError,
            _ => ErrorCode::ValidationError,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        // A code this SDK does not know yet is still an error of the server's.
        Ok(ErrorCode::parse(&name).unwrap_or(ErrorCode::InternalError))
    }
}

/// What every error carries.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The server's code; client-side errors use the same codes (no connection: `INTERNAL_ERROR`).
    pub code: ErrorCode,
    /// The human-readable message, as the server wrote it.
    pub message: String,
    /// The HTTP status of the answer; `None` when the error arose on the client.
    pub status: Option<u16>,
    /// The request field at fault, when the server named one (`"language"`, `"resources.memoryMb"`...).
    pub field: Option<String>,
    /// Anything else the server said about the error.
    pub details: Map<String, Value>,
}

impl ApiError {
    /// A client-side error (no HTTP status).
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), status: None, field: None, details: Map::new() }
    }
}

/// The program could not run (syntax or compile error, time limit, out of memory), or it
/// exited non-zero and the call asked for `throw_on_error`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionError {
    pub error: ApiError,
    /// What the program (or its compiler) wrote to stderr.
    pub stderr: String,
    /// The program's exit code, when it has one.
    pub exit_code: Option<i32>,
    /// Why it could not run; `None` for a plain non-zero exit.
    pub failure: Option<Failure>,
    /// The whole result, when there was one.
    pub result: Option<Box<ExecutionResult>>,
}

impl ExecutionError {
    /// The execution's id, when the error came with its result.
    pub fn execution_id(&self) -> Option<&str> {
        self.result.as_deref().map(|r| r.execution_id.as_str())
    }
}

/// The key went over its rate limit.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitError {
    pub error: ApiError,
    /// When a request may be sent again (the body's `resetAt`; one second from now without one).
    pub reset_at: SystemTime,
    /// The answer's `Retry-After` header, when it had one.
    pub retry_after: Option<Duration>,
}

impl RateLimitError {
    /// How long until `reset_at` (zero once it passed).
    pub fn reset_in(&self) -> Duration {
        self.reset_at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO)
    }
}

/// A merge (strategy `fail`) found paths two branches changed differently; nothing was created.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeConflictError {
    pub error: ApiError,
    /// The conflicting paths.
    pub conflicts: Vec<String>,
}

/// The key already holds as much of something as the operator allows it; nothing was started.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaExceededError {
    pub error: ApiError,
    /// Which quota (`"instances"`, `"contexts"`, `"familyContainers"`, `"snapshotBytes"`, `"stdinBytes"`...).
    pub quota: String,
}

/// Every error of the SDK: one variant per code of the server's table, plus `Connection` for
/// a server that could not be reached (its code is `INTERNAL_ERROR`, as in the other SDKs).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// `VALIDATION_ERROR` (400): a malformed request; `field` names the culprit.
    Validation(ApiError),
    /// `RESOURCE_UNAVAILABLE` (422): more than this operator offers; `field` names what.
    ResourceUnavailable(ApiError),
    /// `QUEUE_FULL` (503): nothing was started; retried automatically.
    QueueFull(ApiError),
    /// `NOT_IMPLEMENTED` (501): a feature this operator does not offer.
    NotImplemented(ApiError),
    /// `NOT_FOUND` (404): unknown, deleted, or another key's.
    NotFound(ApiError),
    /// `CONFLICT` (409): not in a state that allows the call (a paused or stopped instance).
    Conflict(ApiError),
    /// `MERGE_CONFLICT` (409): the conflicting paths of a merge.
    MergeConflict(MergeConflictError),
    /// `AUTH_ERROR` (401): the API key is missing, unknown or revoked.
    Auth(ApiError),
    /// `RATE_LIMIT_EXCEEDED` (429), with `reset_at`.
    RateLimit(RateLimitError),
    /// `QUOTA_EXCEEDED` (403): a per-key quota is used up, with its name; free some first.
    QuotaExceeded(QuotaExceededError),
    /// `INSUFFICIENT_CREDIT` (402): the key's balance is at or below zero; reads still work.
    InsufficientCredit(ApiError),
    /// `EXECUTION_ERROR`: the program could not run, with its stderr and exit code.
    Execution(Box<ExecutionError>),
    /// `TIMEOUT` (504, or no answer within the client's timeout: then `status` is `None`).
    Timeout(ApiError),
    /// `SANDBOX_ERROR` (500): the sandbox itself failed, not the code.
    Sandbox(ApiError),
    /// `SHUTTING_DOWN` (503): nothing was started; retried automatically.
    ShuttingDown(ApiError),
    /// `INTERNAL_ERROR` (500), or an answer the SDK could not read.
    Internal(ApiError),
    /// The server could not be reached, or the connection broke before a whole answer came
    /// (code `INTERNAL_ERROR`, no status).
    Connection(ApiError),
}

impl Error {
    /// The part every error has.
    pub fn api(&self) -> &ApiError {
        match self {
            Error::Validation(e)
            | Error::ResourceUnavailable(e)
            | Error::QueueFull(e)
            | Error::NotImplemented(e)
            | Error::NotFound(e)
            | Error::Conflict(e)
            | Error::Auth(e)
            | Error::Timeout(e)
            | Error::Sandbox(e)
            | Error::ShuttingDown(e)
            | Error::Internal(e)
            | Error::InsufficientCredit(e)
            | Error::Connection(e) => e,
            Error::MergeConflict(e) => &e.error,
            Error::QuotaExceeded(e) => &e.error,
            Error::RateLimit(e) => &e.error,
            Error::Execution(e) => &e.error,
        }
    }

    pub fn code(&self) -> ErrorCode {
        self.api().code
    }

    pub fn message(&self) -> &str {
        &self.api().message
    }

    /// The HTTP status; `None` for an error that arose on the client.
    pub fn status(&self) -> Option<u16> {
        self.api().status
    }

    /// The request field at fault, when the server named one.
    pub fn field(&self) -> Option<&str> {
        self.api().field.as_deref()
    }

    pub fn details(&self) -> &Map<String, Value> {
        &self.api().details
    }

    /// Whether the same request may succeed later as it is (nothing was started).
    pub fn is_retryable(&self) -> bool {
        self.code().is_retryable()
    }

    pub(crate) fn connection(message: impl Into<String>) -> Error {
        Error::Connection(ApiError::new(ErrorCode::InternalError, message))
    }

    /// The error of one code, with no extras (client-side).
    pub(crate) fn of(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::from_api(ApiError::new(code, message))
    }

    /// Wraps an [`ApiError`] in the variant of its code.
    pub fn from_api(e: ApiError) -> Error {
        match e.code {
            ErrorCode::ValidationError => Error::Validation(e),
            ErrorCode::ResourceUnavailable => Error::ResourceUnavailable(e),
            ErrorCode::QueueFull => Error::QueueFull(e),
            ErrorCode::NotImplemented => Error::NotImplemented(e),
            ErrorCode::NotFound => Error::NotFound(e),
            ErrorCode::Conflict => Error::Conflict(e),
            ErrorCode::AuthError => Error::Auth(e),
            ErrorCode::Timeout => Error::Timeout(e),
            ErrorCode::SandboxError => Error::Sandbox(e),
            ErrorCode::ShuttingDown => Error::ShuttingDown(e),
            ErrorCode::InternalError => Error::Internal(e),
            ErrorCode::InsufficientCredit => Error::InsufficientCredit(e),
            ErrorCode::QuotaExceeded => {
                let quota = e.details.get("quota").and_then(Value::as_str).unwrap_or_default().to_string();
                Error::QuotaExceeded(QuotaExceededError { error: e, quota })
            }
            ErrorCode::MergeConflict => {
                let conflicts = string_list(e.details.get("conflicts"));
                Error::MergeConflict(MergeConflictError { error: e, conflicts })
            }
            ErrorCode::RateLimitExceeded => {
                let reset_at = e.details.get("resetAt").and_then(Value::as_str).and_then(parse_iso8601);
                Error::RateLimit(RateLimitError { error: e, reset_at: reset_at.unwrap_or_else(one_second_from_now), retry_after: None })
            }
            ErrorCode::ExecutionError => {
                let stderr = e.details.get("stderr").and_then(Value::as_str).unwrap_or_default().to_string();
                let exit_code = e.details.get("exitCode").and_then(Value::as_i64).map(|c| c as i32);
                let failure = e.details.get("failure").and_then(|f| serde_json::from_value(f.clone()).ok());
                Error::Execution(Box::new(ExecutionError { error: e, stderr, exit_code, failure, result: None }))
            }
        }
    }

    /// The typed error for an error answer: its status, its body (parsed JSON, if it was), and
    /// its `Retry-After` header. What `errorFromBody` in `src/errors.ts` does.
    pub fn from_response(status: u16, body: Option<&Value>, retry_after: Option<&str>) -> Error {
        let empty = Map::new();
        let obj = body.and_then(Value::as_object).unwrap_or(&empty);
        let code = obj.get("code").and_then(Value::as_str).and_then(ErrorCode::parse).unwrap_or_else(|| ErrorCode::of_status(status));
        let message = match obj.get("message").and_then(Value::as_str) {
            Some(m) if !m.is_empty() => m.to_string(),
            _ => format!("HTTP {}", status),
        };
        let mut details = obj.get("details").and_then(Value::as_object).cloned().unwrap_or_default();
        // The server puts `field` and `resetAt` at the top level (some errors keep field in details).
        let field = obj.get("field").or_else(|| details.get("field")).and_then(Value::as_str).map(str::to_string);
        if let Some(reset) = obj.get("resetAt") {
            details.insert("resetAt".into(), reset.clone());
        }
        let api = ApiError { code, message, status: Some(status), field, details };
        let mut err = Error::from_api(api);
        if let Error::RateLimit(r) = &mut err {
            let after = retry_after.and_then(|v| v.trim().parse::<f64>().ok()).filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64);
            r.retry_after = after;
            let had_reset = r.error.details.get("resetAt").and_then(Value::as_str).and_then(parse_iso8601).is_some();
            if let (false, Some(after)) = (had_reset, after) {
                r.reset_at = SystemTime::now() + after;
            }
        }
        err
    }
}

fn one_second_from_now() -> SystemTime {
    SystemTime::now() + Duration::from_secs(1)
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).map(|a| a.iter().map(|x| x.as_str().map(str::to_string).unwrap_or_else(|| x.to_string())).collect()).unwrap_or_default()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code(), self.message())
    }
}

impl std::error::Error for Error {}
