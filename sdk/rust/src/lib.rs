//! # faas_sdk: the Tangle FaaS operator from Rust
//!
//! A blocking client of the operator's HTTP API (ureq + serde_json): run code in a sandbox,
//! follow its output as it happens, snapshot / branch / merge stateful contexts, start and
//! reach persistent instances, and read the key's usage. Errors are typed by the server's
//! code ([`Error`]); calls retry with exponential back-off on network errors, 5xx and 429.
//!
//! ```no_run
//! use faas_sdk::{Error, ExecuteRequest, FaaSClient, Mode, Resources};
//! use std::time::Duration;
//!
//! # fn main() -> faas_sdk::Result<()> {
//! let client = FaaSClient::builder()
//!     .api_key("faas_…")
//!     .endpoint("http://127.0.0.1:8080")
//!     .timeout(Duration::from_secs(60))
//!     .max_retries(3)
//!     .build()?;
//! let r = client.execute(
//!     &ExecuteRequest::new("print(input())", "python")
//!         .mode(Mode::Cached)
//!         .stdin("hi\n")
//!         .resources(Resources { memory_mb: Some(256), timeout_ms: Some(5_000), ..Default::default() }),
//! )?;
//! assert_eq!(r.stdout, "hi\n");
//! match client.execute(&ExecuteRequest::new("def broken(:", "python")) {
//!     Err(Error::Execution(e)) => eprintln!("could not run ({:?}): {}", e.failure, e.stderr),
//!     other => println!("{:?}", other),
//! }
//! # Ok(()) }
//! ```

mod base64;
mod client;
pub mod error;
mod instances;
mod stream;
mod time;
mod transport;
pub mod types;

pub use client::{FaaSClient, FaaSClientBuilder, UsageApi, DEFAULT_ENDPOINT, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT};
pub use error::{ApiError, Error, ErrorCode, ExecutionError, MergeConflictError, QuotaExceededError, RateLimitError, Result};
pub use instances::Instances;
pub use stream::ExecutionStream;
pub use time::{format_iso8601, parse_iso8601};
pub use types::*;

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
