//! `client.instances()`: persistent instances (dev boxes from the operator's devbox image).

use std::time::Duration;

use serde_json::{json, Value};

use crate::client::FaaSClient;
use crate::error::Result;
use crate::transport::{seg, Call};
use crate::types::{Exposure, InstanceExec, InstanceExecResult, InstanceInfo, SshInfo, StartInstance};

/// Persistent instances of the client's key; another key's are [`crate::Error::NotFound`].
#[derive(Debug, Clone, Copy)]
pub struct Instances<'a> {
    pub(crate) client: &'a FaaSClient,
}

impl<'a> Instances<'a> {
    fn post<T: serde::de::DeserializeOwned>(&self, id: &str, action: &str, body: Value, extra: Duration) -> Result<T> {
        self.client.call_json(Call::new("POST", format!("/v1/instances/{}/{}", seg(id), action)).body(body).timeout(self.client.timeout() + extra))
    }

    /// Starts an instance; returns once its SSH server answers.
    pub fn start(&self, spec: &StartInstance) -> Result<InstanceInfo> {
        let body = serde_json::to_value(spec).expect("a StartInstance always serializes");
        self.client.call_json(Call::new("POST", "/v1/instances").body(body).timeout(self.client.timeout() + Duration::from_secs(30)))
    }

    pub fn get(&self, id: &str) -> Result<InstanceInfo> {
        self.client.call_json(Call::new("GET", format!("/v1/instances/{}", seg(id))))
    }

    pub fn list(&self) -> Result<Vec<InstanceInfo>> {
        let v: Value = self.client.call_json(Call::new("GET", "/v1/instances"))?;
        serde_json::from_value(v.get("instances").cloned().unwrap_or_default())
            .map_err(|e| crate::Error::of(crate::ErrorCode::InternalError, format!("GET /v1/instances: unexpected answer ({})", e)))
    }

    /// Stops it and removes everything of it (idempotent: stopping a stopped one is fine).
    pub fn stop(&self, id: &str) -> Result<InstanceInfo> {
        self.client.call_json(Call::new("DELETE", format!("/v1/instances/{}", seg(id))).timeout(self.client.timeout() + Duration::from_secs(30)))
    }

    /// Freezes every process (memory kept; no CPU used or billed).
    pub fn pause(&self, id: &str) -> Result<InstanceInfo> {
        self.post(id, "pause", json!({}), Duration::ZERO)
    }

    /// Continues where it was paused.
    pub fn resume(&self, id: &str) -> Result<InstanceInfo> {
        self.post(id, "resume", json!({}), Duration::ZERO)
    }

    /// Host, port (the operator relays it), username, host key; the private key only the first time.
    pub fn ssh_info(&self, id: &str) -> Result<SshInfo> {
        self.post(id, "ssh", json!({}), Duration::ZERO)
    }

    /// A new key pair (the old one stops working), with its private key.
    pub fn rotate_ssh_key(&self, id: &str) -> Result<SshInfo> {
        self.post(id, "ssh", json!({ "rotateKey": true }), Duration::ZERO)
    }

    /// Exposes a port at its own origin, `http://<id>-<name>.<FAAS_EXPOSE_DOMAIN>:<gateway port>/`
    /// (HTTP and WebSocket; `Exposure::url`), reachable with the owner's key or the returned
    /// token (`?faas_token=`).
    pub fn expose(&self, id: &str, name: &str, port: u16) -> Result<Exposure> {
        self.post(id, "expose", json!({ "name": name, "port": port }), Duration::ZERO)
    }

    /// [`Instances::expose`]; `strip_prefix: false` puts `/i/<id>/<name>` before the path the port sees
    /// (for an app configured to serve under that prefix).
    pub fn expose_with_prefix(&self, id: &str, name: &str, port: u16, strip_prefix: bool) -> Result<Exposure> {
        self.post(id, "expose", json!({ "name": name, "port": port, "stripPrefix": strip_prefix }), Duration::ZERO)
    }

    /// The exposed URLs (without their tokens).
    pub fn exposures(&self, id: &str) -> Result<Vec<Exposure>> {
        let v: Value = self.client.call_json(Call::new("GET", format!("/v1/instances/{}/exposures", seg(id))))?;
        serde_json::from_value(v.get("exposures").cloned().unwrap_or_default())
            .map_err(|e| crate::Error::of(crate::ErrorCode::InternalError, format!("GET exposures: unexpected answer ({})", e)))
    }

    /// Removes an exposed URL; whether there was one.
    pub fn unexpose(&self, id: &str, name: &str) -> Result<bool> {
        let v: Value = self.client.call_json(Call::new("DELETE", format!("/v1/instances/{}/exposures/{}", seg(id), seg(name))))?;
        Ok(v.get("removed").and_then(Value::as_bool).unwrap_or(false))
    }

    /// Runs a command in the instance as its user (a string runs under `bash -lc`).
    pub fn exec(&self, id: &str, exec: &InstanceExec) -> Result<InstanceExecResult> {
        let body = serde_json::to_value(exec).expect("an InstanceExec always serializes");
        self.post(id, "exec", body, Duration::from_millis(exec.timeout_ms.unwrap_or(0)))
    }
}
