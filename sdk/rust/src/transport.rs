//! One JSON call with retries, on ureq.
//!
//! The retry rule is the other SDKs': exponential back-off with jitter (0.2 s doubling, at
//! most 10 s, times a random factor in [0.5, 1]) on network errors, 5xx other than 501, and
//! 429 (then waiting until the answer's `resetAt`). A call that may already have run on the
//! server is never sent twice, unless it is idempotent: a GET or DELETE, or an execute, which
//! carries an `Idempotency-Key` header so that the gateway answers a resend with the same
//! execution. Any call is resent when the connection never opened, and when the answer proves
//! nothing was started (`RATE_LIMIT_EXCEEDED`, `QUEUE_FULL`, `SHUTTING_DOWN`).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::error::{ApiError, Error, ErrorCode, Result};

/// The client's settings and its HTTP agents.
pub(crate) struct Transport {
    /// Plain calls: each with a deadline for the whole exchange.
    agent: ureq::Agent,
    /// Event streams: no deadline for the whole answer, a read timeout between lines instead
    /// (the gateway sends an empty line every 15 s while a program is quiet).
    stream_agent: ureq::Agent,
    pub(crate) endpoint: String,
    api_key: Option<String>,
    pub(crate) timeout: Duration,
    pub(crate) max_retries: u32,
    debug: bool,
}

/// One call's particulars.
pub(crate) struct Call<'a> {
    pub method: &'a str,
    pub path: String,
    pub body: Option<Value>,
    pub query: Vec<(&'a str, String)>,
    /// Harmless to send twice: a GET or DELETE, or a POST with an idempotency key.
    pub idempotent: bool,
    pub idempotency_key: Option<String>,
    /// This call's deadline, when not the client's timeout.
    pub timeout: Option<Duration>,
}

impl<'a> Call<'a> {
    pub fn new(method: &'a str, path: impl Into<String>) -> Call<'a> {
        let idempotent = matches!(method, "GET" | "HEAD" | "DELETE");
        Call { method, path: path.into(), body: None, query: Vec::new(), idempotent, idempotency_key: None, timeout: None }
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn query(mut self, name: &'a str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.query.push((name, v.to_string()));
        }
        self
    }

    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Sends an `Idempotency-Key`, which makes the call safe to resend.
    pub fn idempotency_key(mut self) -> Self {
        self.idempotency_key = Some(new_idempotency_key());
        self.idempotent = true;
        self
    }
}

/// What an answered call gives back.
pub(crate) enum Reply {
    Body(Vec<u8>),
    Reader(Box<dyn Read + Send + Sync + 'static>),
}

/// How one attempt ended.
enum Attempt {
    Answered(Reply),
    /// An error answer: status, body, Retry-After.
    Refused(u16, Vec<u8>, Option<String>),
    /// The connection never opened: the server saw nothing.
    NotSent(String),
    /// Broken after the request went out (it may have run); `timed_out`: no answer in time.
    Broken {
        timed_out: bool,
        message: String,
    },
    /// Nothing to retry (a malformed endpoint...).
    Fatal(Error),
}

const USER_AGENT: &str = concat!("faas-sdk-rust/", env!("CARGO_PKG_VERSION"));
const BACKOFF_BASE: f64 = 0.2;
const BACKOFF_CAP: f64 = 10.0;

impl Transport {
    pub fn new(endpoint: String, api_key: Option<String>, timeout: Duration, max_retries: u32, debug: bool) -> Transport {
        let connect = timeout.min(Duration::from_secs(10));
        let agent = ureq::AgentBuilder::new().timeout_connect(connect).user_agent(USER_AGENT).build();
        let stream_agent =
            ureq::AgentBuilder::new().timeout_connect(connect).timeout_read(timeout.max(Duration::from_secs(30))).timeout_write(timeout).user_agent(USER_AGENT).build();
        Transport { agent, stream_agent, endpoint: endpoint.trim_end_matches('/').to_string(), api_key: api_key.filter(|k| !k.is_empty()), timeout, max_retries, debug }
    }

    fn key(&self) -> Result<&str> {
        // At call time, not when the client is built: a client may be made before the key is known.
        self.api_key
            .as_deref()
            .ok_or_else(|| Error::of(ErrorCode::AuthError, "No API key: pass FaaSClient::new(api_key) / .api_key(...) or set FAAS_API_KEY (npm run operator -- keys create)."))
    }

    /// A call whose answer is JSON (`Value::Null` for an empty body).
    pub fn json(&self, call: Call<'_>) -> Result<Value> {
        match self.send(&call, false)? {
            Reply::Body(bytes) if bytes.is_empty() => Ok(Value::Null),
            Reply::Body(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::Internal(ApiError { status: Some(200), ..ApiError::new(ErrorCode::InternalError, format!("{} {}: the answer is not JSON ({})", call.method, call.path, e)) })
            }),
            Reply::Reader(_) => unreachable!("a plain call reads its whole answer"),
        }
    }

    /// A call whose answer is read as it arrives (an event stream).
    pub fn reader(&self, call: Call<'_>) -> Result<Box<dyn Read + Send + Sync + 'static>> {
        match self.send(&call, true)? {
            Reply::Reader(r) => Ok(r),
            Reply::Body(b) => Ok(Box::new(io::Cursor::new(b))),
        }
    }

    fn send(&self, call: &Call<'_>, streaming: bool) -> Result<Reply> {
        let key = self.key()?;
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let outcome = self.attempt(call, key, streaming);
            let wait = match outcome {
                Attempt::Answered(reply) => {
                    self.log(call, "2xx", started);
                    return Ok(reply);
                }
                Attempt::Fatal(e) => return Err(e),
                Attempt::NotSent(message) => {
                    self.log(call, "not sent (connection failed)", started);
                    if attempt >= self.max_retries {
                        return Err(Error::connection(format!("Could not connect to {}: {}", self.endpoint, message)));
                    }
                    backoff(attempt)
                }
                Attempt::Broken { timed_out, message } => {
                    self.log(call, if timed_out { "timeout" } else { "connection broke" }, started);
                    if !call.idempotent || attempt >= self.max_retries {
                        let maybe_ran = if call.idempotent { "" } else { "; the request may have run on the server (it is not resent)" };
                        return Err(if timed_out {
                            let limit = call.timeout.unwrap_or(self.timeout);
                            Error::of(
                                ErrorCode::Timeout,
                                format!("{} {}: no answer from {} within {:.1} s{}", call.method, call.path, self.endpoint, limit.as_secs_f64(), maybe_ran),
                            )
                        } else {
                            Error::connection(format!("Connection to {} broke during {} {}: {}{}", self.endpoint, call.method, call.path, message, maybe_ran))
                        });
                    }
                    backoff(attempt)
                }
                Attempt::Refused(status, body, retry_after) => {
                    self.log(call, &status.to_string(), started);
                    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
                    let err = Error::from_response(status, parsed.as_ref(), retry_after.as_deref());
                    let worth_it = status == 429 || (status >= 500 && status != 501);
                    let not_run = matches!(err.code(), ErrorCode::RateLimitExceeded | ErrorCode::QueueFull | ErrorCode::ShuttingDown);
                    if attempt >= self.max_retries || !worth_it || !(call.idempotent || not_run) {
                        return Err(err);
                    }
                    match &err {
                        // Wait for the window to reopen, never less than the back-off (whose
                        // jitter keeps a crowd of clients from coming back together).
                        Error::RateLimit(r) => r.reset_in().max(r.retry_after.unwrap_or_default()).max(backoff(attempt)),
                        _ => backoff(attempt),
                    }
                }
            };
            std::thread::sleep(wait);
            attempt += 1;
        }
    }

    fn attempt(&self, call: &Call<'_>, key: &str, streaming: bool) -> Attempt {
        let url = format!("{}{}", self.endpoint, call.path);
        let agent = if streaming { &self.stream_agent } else { &self.agent };
        let mut req =
            agent.request(call.method, &url).set("Authorization", &format!("Bearer {}", key)).set("Accept", if streaming { "application/x-ndjson" } else { "application/json" });
        if !streaming {
            req = req.timeout(call.timeout.unwrap_or(self.timeout));
        }
        for (name, value) in &call.query {
            req = req.query(name, value);
        }
        if let Some(k) = &call.idempotency_key {
            req = req.set("Idempotency-Key", k);
        }
        let sent = match &call.body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).expect("a JSON value always serializes");
                req.set("Content-Type", "application/json").send_bytes(&bytes)
            }
            None => req.call(),
        };
        match sent {
            Ok(res) if streaming => Attempt::Answered(Reply::Reader(res.into_reader())),
            Ok(res) => match read_all(res) {
                Ok(body) => Attempt::Answered(Reply::Body(body)),
                Err(e) => Attempt::Broken { timed_out: is_timeout(&e), message: e.to_string() },
            },
            Err(ureq::Error::Status(status, res)) => {
                let retry_after = res.header("retry-after").map(str::to_string);
                match read_all(res) {
                    Ok(body) => Attempt::Refused(status, body, retry_after),
                    Err(e) => Attempt::Broken { timed_out: is_timeout(&e), message: e.to_string() },
                }
            }
            Err(ureq::Error::Transport(t)) => {
                let message = t.to_string();
                match t.kind() {
                    ureq::ErrorKind::ConnectionFailed | ureq::ErrorKind::Dns => Attempt::NotSent(message),
                    ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => {
                        let hint = if self.endpoint.starts_with("https:") && !cfg!(feature = "tls") { " (https needs the crate's `tls` feature)" } else { "" };
                        Attempt::Fatal(Error::Validation(ApiError {
                            field: Some("endpoint".into()),
                            ..ApiError::new(ErrorCode::ValidationError, format!("endpoint: {:?} is not a usable http(s) URL{}: {}", self.endpoint, hint, message))
                        }))
                    }
                    _ => {
                        let timed_out = matches!(std::error::Error::source(&t).and_then(|s| s.downcast_ref::<io::Error>()), Some(e) if is_timeout(e));
                        Attempt::Broken { timed_out, message }
                    }
                }
            }
        }
    }

    fn log(&self, call: &Call<'_>, status: &str, started: Instant) {
        if self.debug {
            // Never the body or headers: they carry the API key and the user's code.
            eprintln!("[faas] {} {} -> {} ({:.1} ms)", call.method, call.path, status, started.elapsed().as_secs_f64() * 1000.0);
        }
    }
}

fn read_all(res: ureq::Response) -> io::Result<Vec<u8>> {
    // Not into_string(): it stops at 10 MB, and outputs can be larger.
    let mut body = Vec::new();
    res.into_reader().read_to_end(&mut body)?;
    Ok(body)
}

pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock)
}

/// A random 64-bit number (std's per-process random hash keys, stirred with a counter and the clock).
fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.write_u32(std::process::id());
    h.finish()
}

/// 32 hex digits: what the gateway accepts as an `Idempotency-Key` (1-128 of `[A-Za-z0-9_-]`).
pub(crate) fn new_idempotency_key() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

/// The wait before attempt `attempt + 1`.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let expo = (BACKOFF_BASE * 2f64.powi(attempt.min(30) as i32)).min(BACKOFF_CAP);
    let jitter = 0.5 + (random_u64() >> 11) as f64 / (1u64 << 53) as f64 * 0.5;
    Duration::from_secs_f64(expo * jitter)
}

/// A path segment, percent-encoded.
pub(crate) fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{:02X}", b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_unique_and_well_formed() {
        let a = new_idempotency_key();
        let b = new_idempotency_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        for attempt in 0..8 {
            let d = backoff(attempt).as_secs_f64();
            let expo = (0.2 * 2f64.powi(attempt as i32)).min(10.0);
            assert!(d >= expo * 0.5 && d <= expo, "attempt {}: {}", attempt, d);
        }
        assert!(backoff(40).as_secs_f64() <= 10.0);
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(seg("inst-0123abcd"), "inst-0123abcd");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
