//! What every test needs: the real gateway's URL and keys (from the environment: there is no
//! fake server, and without them every test fails rather than passing vacuously), clients,
//! and a fault proxy — a real TCP relay in front of the real gateway that loses answers or
//! holds requests, to prove the retry rules.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use faas_sdk::FaaSClient;

pub struct Env {
    pub endpoint: String,
    pub key: String,
    pub key2: String,
    pub limited_key: String,
}

pub fn env() -> Env {
    let var = |name: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
            panic!(
                "{} is not set: these tests run against a real FaaS gateway. Run them through `npx vitest run test/sdk/rust.test.ts`, \
                 or start one with `npx tsx scripts/dev-gateway.ts` and export FAAS_ENDPOINT, FAAS_API_KEY, FAAS_API_KEY_2 and FAAS_API_KEY_LIMITED.",
                name
            )
        })
    };
    Env { endpoint: var("FAAS_ENDPOINT"), key: var("FAAS_API_KEY"), key2: var("FAAS_API_KEY_2"), limited_key: var("FAAS_API_KEY_LIMITED") }
}

/// The first key's client; a timeout well above the sandbox's default, so a cold start is no failure.
pub fn client() -> FaaSClient {
    let e = env();
    FaaSClient::builder().api_key(e.key).endpoint(e.endpoint).timeout(Duration::from_secs(90)).build().expect("a valid client")
}

/// Another key's client.
pub fn client2() -> FaaSClient {
    let e = env();
    FaaSClient::builder().api_key(e.key2).endpoint(e.endpoint).timeout(Duration::from_secs(90)).build().expect("a valid client")
}

/// `host:port` of the gateway.
pub fn gateway_addr() -> String {
    env().endpoint.trim_start_matches("http://").trim_end_matches('/').to_string()
}

/// A port where nothing listens: connecting there is refused at once.
pub fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// One request as the proxy saw it, and the gateway's answer to it (empty when held).
#[derive(Debug, Clone)]
pub struct Seen {
    pub head: String,
    pub answer: Vec<u8>,
}

impl Seen {
    /// A request header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            if n.trim().eq_ignore_ascii_case(name) {
                Some(v.trim().to_string())
            } else {
                None
            }
        })
    }

    /// The answer's JSON body.
    pub fn answer_json(&self) -> serde_json::Value {
        let text = String::from_utf8_lossy(&self.answer);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Forward every request to the gateway, but close the connection instead of passing the
    /// answer back for the first N of them: an answer lost after the request ran.
    LoseAnswers(usize),
    /// Read the request and never answer (nothing is forwarded).
    Hold,
}

pub struct FaultProxy {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FaultProxy {
    pub fn start(fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        let upstream = gateway_addr();
        thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(conn) = conn else { return };
                let log = log.clone();
                let upstream = upstream.clone();
                thread::spawn(move || relay(conn, n, fault, &upstream, &log));
            }
        });
        FaultProxy { url, seen }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case("content-length")).and_then(|(_, v)| v.trim().parse::<usize>().ok()))
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf[head_end..head_end + length].to_vec()))
}

fn relay(mut conn: TcpStream, n: usize, fault: Fault, upstream: &str, log: &Mutex<Vec<Seen>>) {
    let Some((head, body)) = read_request(&mut conn) else { return };
    if let Fault::Hold = fault {
        log.lock().unwrap().push(Seen { head, answer: Vec::new() });
        thread::sleep(Duration::from_secs(30));
        return;
    }
    // One request per upstream connection: `Connection: close` makes the gateway end it after its answer.
    let mut lines: Vec<&str> = head.trim_end().lines().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect();
    lines.push("Connection: close");
    let forwarded = format!("{}\r\n\r\n", lines.join("\r\n"));
    let mut answer = Vec::new();
    if let Ok(mut up) = TcpStream::connect(upstream) {
        let _ = up.write_all(forwarded.as_bytes()).and_then(|_| up.write_all(&body));
        let _ = up.read_to_end(&mut answer);
    }
    log.lock().unwrap().push(Seen { head, answer: answer.clone() });
    let lose = matches!(fault, Fault::LoseAnswers(k) if n < k);
    if !lose {
        let _ = conn.write_all(&answer);
    }
    let _ = conn.shutdown(Shutdown::Both);
}

/// A fresh temporary folder, removed with everything in it when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("faas-sdk-rust-{}-{}", std::process::id(), name));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, file: &str) -> std::path::PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
