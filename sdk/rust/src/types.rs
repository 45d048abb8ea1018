//! The gateway's request and answer shapes (`src/api/schemas.ts`), with Rust names: fields are
//! snake_case here and camelCase on the wire.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::base64;
use crate::error::{ApiError, Error, ErrorCode};

/// The language of a program. `Other` sends any name as it is (the gateway answers an unknown
/// one with a validation error naming `language`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    JavaScript,
    TypeScript,
    Bash,
    Go,
    Other(String),
}

impl Language {
    pub fn as_str(&self) -> &str {
        match self {
            Language::Python => "python",
            Language::JavaScript => "javascript",
            Language::TypeScript => "typescript",
            Language::Bash => "bash",
            Language::Go => "go",
            Language::Other(name) => name,
        }
    }
}

impl From<&str> for Language {
    fn from(name: &str) -> Language {
        match name {
            "python" => Language::Python,
            "javascript" => Language::JavaScript,
            "typescript" => Language::TypeScript,
            "bash" => Language::Bash,
            "go" => Language::Go,
            other => Language::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Language {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Language::from(String::deserialize(d)?.as_str()))
    }
}

/// How an execution runs (README, "Modes"); the stateful ones make a context with an `executionId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Ephemeral,
    Cached,
    Checkpointed,
    Branched,
    Persistent,
}

/// File contents and stdin: text, or binary (sent as `{"base64": ...}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bytes {
    Text(String),
    Binary(Vec<u8>),
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Bytes::Text(t) => s.serialize_str(t),
            Bytes::Binary(b) => {
                let mut m = BTreeMap::new();
                m.insert("base64", base64::encode(b));
                m.serialize(s)
            }
        }
    }
}

impl From<&str> for Bytes {
    fn from(t: &str) -> Bytes {
        Bytes::Text(t.to_string())
    }
}

impl From<String> for Bytes {
    fn from(t: String) -> Bytes {
        Bytes::Text(t)
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(b: Vec<u8>) -> Bytes {
        Bytes::Binary(b)
    }
}

impl From<&[u8]> for Bytes {
    fn from(b: &[u8]) -> Bytes {
        Bytes::Binary(b.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for Bytes {
    fn from(b: &[u8; N]) -> Bytes {
        Bytes::Binary(b.to_vec())
    }
}

/// An execution's resources; what is left out gets the operator's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_mb: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
}

/// A pseudo-terminal of this size (stdout and stderr then arrive merged, lines end in `\r\n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tty {
    pub cols: u16,
    pub rows: u16,
}

/// `POST /v1/executions`. Build it with [`ExecuteRequest::new`] and the chained setters, or
/// fill the public fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteRequest {
    pub code: String,
    pub language: Language,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Run in an existing stateful context (the `execution_id` of a checkpointed, branched or
    /// persistent execution, a restore or a branch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env_vars: BTreeMap<String, String>,
    /// Files put in the working directory before the program starts (relative paths).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Bytes>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tty: Option<Tty>,
    /// Keep stdin open for [`crate::ExecutionStream::send_input`] (streams only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactive: Option<bool>,
    /// Return [`Error::Execution`] for a program that ran and exited non-zero (default: `Ok`
    /// with its result). Not sent.
    #[serde(skip)]
    pub throw_on_error: bool,
}

impl ExecuteRequest {
    pub fn new(code: impl Into<String>, language: impl Into<Language>) -> ExecuteRequest {
        ExecuteRequest {
            code: code.into(),
            language: language.into(),
            mode: None,
            execution_id: None,
            resources: None,
            env_vars: BTreeMap::new(),
            files: BTreeMap::new(),
            stdin: None,
            tty: None,
            interactive: None,
            throw_on_error: false,
        }
    }

    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }

    pub fn execution_id(mut self, id: impl Into<String>) -> Self {
        self.execution_id = Some(id.into());
        self
    }

    pub fn resources(mut self, resources: Resources) -> Self {
        self.resources = Some(resources);
        self
    }

    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env_vars.insert(name.into(), value.into());
        self
    }

    pub fn file(mut self, path: impl Into<String>, contents: impl Into<Bytes>) -> Self {
        self.files.insert(path.into(), contents.into());
        self
    }

    pub fn stdin(mut self, input: impl Into<Bytes>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    pub fn tty(mut self, cols: u16, rows: u16) -> Self {
        self.tty = Some(Tty { cols, rows });
        self
    }

    pub fn interactive(mut self, on: bool) -> Self {
        self.interactive = Some(on);
        self
    }

    pub fn throw_on_error(mut self, on: bool) -> Self {
        self.throw_on_error = on;
        self
    }
}

/// Why a program could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Failure {
    /// A syntax or compile error: it never ran.
    Compile,
    /// The time limit.
    Timeout,
    /// Out of memory.
    Oom,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionUsage {
    /// CPU time in the sandbox (the container's cgroup accounting).
    pub cpu_seconds: f64,
    pub memory_peak_mb: f64,
}

/// What a finished execution answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionResult {
    /// Also the id of its context, for a stateful execution.
    pub execution_id: String,
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    pub duration_ms: f64,
    pub truncated: bool,
    pub timed_out: bool,
    pub oom_killed: bool,
    pub compile_error: bool,
    pub usage: ExecutionUsage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutionStatus {
    Queued,
    Running,
    Completed,
    Failed,
}

/// An error as an execution's info or a stream event carries it: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EventError {
    pub code: ErrorCode,
    pub message: String,
}

impl EventError {
    /// As an SDK error (no HTTP status: it came inside an answer).
    pub fn to_error(&self) -> Error {
        Error::from_api(ApiError::new(self.code, self.message.clone()))
    }
}

/// `GET /v1/executions/:id`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionInfo {
    pub execution_id: String,
    pub status: ExecutionStatus,
    pub language: Language,
    pub mode: Mode,
    pub created_at: String,
    #[serde(default)]
    pub result: Option<ExecutionResult>,
    /// Why it failed (status `failed`: refused by the engine, not a program's own failure).
    #[serde(default)]
    pub error: Option<EventError>,
}

/// One event of an execution's stream.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StreamEvent {
    /// A chunk of stdout.
    Output { data: String },
    /// A chunk of stderr (`data`), or the execution's failure (`error`: then it is the last event).
    Error {
        #[serde(default)]
        data: Option<String>,
        #[serde(default)]
        error: Option<EventError>,
    },
    /// A progress report of the program (`faas-progress 40 "loading"`).
    Progress { percent: f64, message: String },
    /// The end, with the whole result.
    Complete {
        #[serde(rename = "exitCode")]
        exit_code: i32,
        result: ExecutionResult,
    },
}

impl StreamEvent {
    /// Whether nothing follows it.
    pub fn is_final(&self) -> bool {
        matches!(self, StreamEvent::Complete { .. } | StreamEvent::Error { error: Some(_), .. })
    }
}

/// A message to a running execution (its stdin, its terminal, or a kill).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamInput {
    Stdin { data: String },
    StdinClose,
    Resize { cols: u16, rows: u16 },
    Kill,
}

// ---- snapshots and branches -----------------------------------------------------------------

/// A snapshot of a stateful context: its files and (python) its interpreter memory.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotInfo {
    pub id: String,
    pub execution_id: String,
    pub created_at: String,
    pub size_bytes: u64,
    pub has_memory: bool,
    /// sha256 of the file tree: equal trees have equal hashes (and are stored once).
    pub content_hash: String,
    pub language: Language,
    #[serde(default)]
    pub base_snapshot_id: Option<String>,
}

/// A new context made from a snapshot: run code in it with `execution_id`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreInfo {
    pub execution_id: String,
    pub snapshot_id: String,
    pub has_memory: bool,
}

/// A branch: a new, independent context from a snapshot, which merges can combine.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BranchInfo {
    pub id: String,
    pub execution_id: String,
    pub snapshot_id: String,
    pub has_memory: bool,
}

/// What a merge does with paths two branches changed differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeStrategy {
    /// A conflict is [`Error::MergeConflict`] and nothing is created (the default).
    Fail,
    /// The earlier branch in the list wins.
    Ours,
    /// The later branch in the list wins.
    Theirs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct MergeSummary {
    pub added: u64,
    pub changed: u64,
    pub deleted: u64,
}

/// The snapshot a merge made (memory from the base snapshot).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MergeInfo {
    pub id: String,
    pub execution_id: String,
    pub created_at: String,
    pub size_bytes: u64,
    pub has_memory: bool,
    pub content_hash: String,
    pub language: Language,
    #[serde(default)]
    pub base_snapshot_id: Option<String>,
    /// Always `"base"`.
    pub memory_from: String,
    pub strategy: MergeStrategy,
    /// Paths the branches changed differently (settled by the strategy).
    pub conflicts: Vec<String>,
    pub summary: MergeSummary,
    pub branch_ids: Vec<String>,
}

// ---- persistent instances -------------------------------------------------------------------

/// An instance's resources; what is left out gets the operator's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceResources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// Its memory-backed disk, GiB (fractions allowed: 0.25 is 256 MiB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_gb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_count: Option<u32>,
}

/// `autoStop`: the operator's idle time, never, or after this many idle seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AutoStop {
    Enabled(bool),
    AfterSeconds(u64),
}

/// `POST /v1/instances`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInstance {
    /// Start with a snapshot's files in `/workspace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<InstanceResources>,
    /// Seconds until it is stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop: Option<AutoStop>,
    /// Outbound network (only where the operator allows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    Running,
    Paused,
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceResourcesInfo {
    pub cpu_cores: f64,
    pub memory_mb: f64,
    pub disk_gb: f64,
    pub gpu_count: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceUsage {
    pub cpu_seconds: f64,
    pub paused_seconds: f64,
    pub uptime_seconds: f64,
}

/// A persistent instance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub id: String,
    pub status: InstanceStatus,
    pub created_at: String,
    pub expires_at: String,
    pub language: Language,
    pub resources: InstanceResourcesInfo,
    pub network: bool,
    /// Idle seconds before an automatic stop; `None`: never for idleness.
    #[serde(default)]
    pub auto_stop: Option<f64>,
    #[serde(default)]
    pub stopped_at: Option<String>,
    /// `user`, `ttl`, `idle`, `exited` or `lost`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    pub usage: InstanceUsage,
}

/// How to reach an instance's SSH server (through the operator's relay).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SshInfo {
    pub host: String,
    pub port: u16,
    pub username: String,
    /// The private key (OpenSSH format): handed out once, `None` on later calls (unless rotated).
    #[serde(default)]
    pub private_key: Option<String>,
    pub fingerprint: String,
    /// The instance's host key (`ssh-ed25519 AAAA…`) for known_hosts; `None` while paused.
    #[serde(default)]
    pub host_key: Option<String>,
    /// `ssh -i <key file> -p PORT user@host`
    pub command: String,
}

/// An exposed instance port, on an origin of its own: `http://<id>-<name>.<FAAS_EXPOSE_DOMAIN>:<gateway port>/`
/// (`localhost` by default; any *.localhost is loopback in browsers and curl).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exposure {
    pub name: String,
    pub port: u16,
    pub strip_prefix: bool,
    pub url: String,
    /// The URL's own access token (`?faas_token=`), handed out once, at expose.
    #[serde(default)]
    pub token: Option<String>,
}

/// A command for [`crate::Instances::exec`]: a shell line (run under `bash -lc`) or an argv.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Argv(Vec<String>),
}

impl From<&str> for Command {
    fn from(line: &str) -> Command {
        Command::Shell(line.to_string())
    }
}

impl From<String> for Command {
    fn from(line: String) -> Command {
        Command::Shell(line)
    }
}

impl From<Vec<String>> for Command {
    fn from(argv: Vec<String>) -> Command {
        Command::Argv(argv)
    }
}

/// `POST /v1/instances/:id/exec`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceExec {
    pub command: Command,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdin: Option<Bytes>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

impl InstanceExec {
    pub fn new(command: impl Into<Command>) -> InstanceExec {
        InstanceExec { command: command.into(), stdin: None, env: BTreeMap::new(), cwd: None, timeout_ms: None }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceExecResult {
    pub stdout: String,
    pub stderr: String,
    pub exit_code: i32,
    pub timed_out: bool,
    pub truncated: bool,
}

// ---- usage ----------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitInfo {
    pub limit: u64,
    pub remaining: u64,
    pub reset_at: String,
    pub window_ms: u64,
    pub max_concurrent: u64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prices {
    pub per_execution: f64,
    pub per_cpu_second: f64,
    pub per_gb_second: f64,
}

/// `GET /v1/usage/current`: the key's totals so far, credit and balance, rate limit, running executions.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentUsage {
    pub executions: u64,
    pub cpu_seconds: f64,
    pub memory_gb_seconds: f64,
    pub cost: f64,
    pub credit: f64,
    /// Credit less costs (reported, not enforced, below zero).
    pub balance: f64,
    pub active_executions: u64,
    pub rate_limit: RateLimitInfo,
    pub prices: Prices,
}

/// One UTC day of [`UsageMetrics`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DailyUsage {
    pub date: String,
    pub executions: u64,
    pub cpu_seconds: f64,
    pub memory_gb_seconds: f64,
    pub cost: f64,
}

/// `GET /v1/usage/metrics`: totals over a period, per UTC day.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetrics {
    pub executions: u64,
    pub cpu_seconds: f64,
    pub memory_gb_seconds: f64,
    pub cost: f64,
    pub start_date: String,
    pub end_date: String,
    pub daily: Vec<DailyUsage>,
}
