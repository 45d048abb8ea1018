//! An execution's events over plain HTTP: `GET /v1/executions/:id/events` answers one JSON
//! event per line (newline-delimited JSON), first a replay of what was printed so far, then
//! live, and ends after `complete` (or a failure). Input goes the other way one message per
//! request (`POST /v1/executions/:id/input`).

use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use crate::client::check_result;
use crate::error::{Error, ErrorCode, Result};
use crate::transport::{is_timeout, seg, Call, Transport};
use crate::types::{ExecutionResult, ExecutionStatus, StreamEvent, StreamInput};

/// A live view of one execution: an iterator of its events, ending after the last one.
///
/// ```no_run
/// # use faas_sdk::{FaaSClient, ExecuteRequest, StreamEvent};
/// # fn main() -> faas_sdk::Result<()> {
/// let client = FaaSClient::new("faas_…");
/// let stream = client.execute_stream(&ExecuteRequest::new("import time\nprint(1, flush=True)\ntime.sleep(1)\nprint(2)", "python"))?;
/// for event in stream {
///     match event? {
///         StreamEvent::Output { data } => print!("{}", data),
///         StreamEvent::Complete { exit_code, .. } => println!("exit {}", exit_code),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
///
/// Dropping it stops watching; the execution goes on.
pub struct ExecutionStream {
    execution_id: String,
    lines: BufReader<Box<dyn Read + Send + Sync + 'static>>,
    t: Arc<Transport>,
    done: bool,
}

impl std::fmt::Debug for ExecutionStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionStream").field("execution_id", &self.execution_id).field("done", &self.done).finish()
    }
}

impl ExecutionStream {
    pub(crate) fn new(execution_id: String, reader: Box<dyn Read + Send + Sync + 'static>, t: Arc<Transport>) -> ExecutionStream {
        ExecutionStream { execution_id, lines: BufReader::new(reader), t, done: false }
    }

    pub fn execution_id(&self) -> &str {
        &self.execution_id
    }

    fn send(&self, input: StreamInput) -> Result<ExecutionStatus> {
        let body = serde_json::to_value(&input).expect("a StreamInput always serializes");
        let answer = self.t.json(Call::new("POST", format!("/v1/executions/{}/input", seg(&self.execution_id))).body(body))?;
        serde_json::from_value(answer.get("status").cloned().unwrap_or_default())
            .map_err(|e| Error::of(ErrorCode::InternalError, format!("POST /v1/executions/:id/input: unexpected answer ({})", e)))
    }

    /// Writes to the program's stdin (it must have started interactive).
    pub fn send_input(&self, text: &str) -> Result<ExecutionStatus> {
        self.send(StreamInput::Stdin { data: text.to_string() })
    }

    /// Ends the program's stdin (EOF).
    pub fn close_input(&self) -> Result<ExecutionStatus> {
        self.send(StreamInput::StdinClose)
    }

    /// Resizes the program's terminal (when it runs with a tty).
    pub fn resize(&self, cols: u16, rows: u16) -> Result<ExecutionStatus> {
        self.send(StreamInput::Resize { cols, rows })
    }

    /// Kills the program's whole process group; `complete` follows with exit code 137.
    pub fn kill(&self) -> Result<ExecutionStatus> {
        self.send(StreamInput::Kill)
    }

    /// Reads the rest of the events and returns the result by the execute rule: `Ok` for a
    /// program that ran (whatever its exit code), [`Error::Execution`] when it could not run,
    /// the execution's own error when it failed to start.
    pub fn finish(self) -> Result<ExecutionResult> {
        for event in self {
            match event? {
                StreamEvent::Complete { result, .. } => return check_result(result, false),
                StreamEvent::Error { error: Some(e), .. } => return Err(e.to_error()),
                _ => {}
            }
        }
        Err(Error::connection("the event stream ended before the execution did"))
    }
}

impl Iterator for ExecutionStream {
    type Item = Result<StreamEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut line = String::new();
        loop {
            line.clear();
            match self.lines.read_line(&mut line) {
                Ok(0) => {
                    self.done = true;
                    return Some(Err(Error::connection(format!("the event stream of {} ended before the execution did", self.execution_id))));
                }
                Ok(_) if line.trim().is_empty() => continue, // a heartbeat
                Ok(_) => {
                    return Some(match serde_json::from_str::<StreamEvent>(line.trim_end()) {
                        Ok(event) => {
                            self.done = event.is_final();
                            Ok(event)
                        }
                        Err(e) => {
                            self.done = true;
                            Err(Error::of(ErrorCode::InternalError, format!("an event the SDK cannot read ({}): {}", e, line.trim_end())))
                        }
                    });
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(if is_timeout(&e) {
                        Error::of(
                            ErrorCode::Timeout,
                            format!(
                                "no event from {} within the client's timeout ({:.0} s)",
                                self.execution_id,
                                self.t.timeout.max(std::time::Duration::from_secs(30)).as_secs_f64()
                            ),
                        )
                    } else {
                        Error::connection(format!("the event stream of {} broke: {}", self.execution_id, e))
                    }));
                }
            }
        }
    }
}
