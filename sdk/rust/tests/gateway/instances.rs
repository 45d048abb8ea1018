//! Persistent instances through the Rust SDK, against the real gateway and its devbox image:
//! start / get / list, SSH with the stock client, exec, an exposed port, pause / resume, stop,
//! and another key's 404.

use std::os::unix::fs::PermissionsExt;
use std::process::Command as Process;

use faas_sdk::{Error, ErrorCode, InstanceExec, InstanceResources, InstanceStatus, StartInstance};

use crate::common::{client, client2, TempDir};

/// Stops the instance however the test ends.
struct Stopper(String);

impl Drop for Stopper {
    fn drop(&mut self) {
        let _ = client().instances().stop(&self.0);
    }
}

#[test]
fn an_instance_starts_answers_ssh_exposes_a_port_pauses_resumes_and_stops() {
    let c = client();
    let inst =
        c.instances().start(&StartInstance { resources: Some(InstanceResources { disk_gb: Some(0.25), ..Default::default() }), ttl: Some(600), ..Default::default() }).unwrap();
    let _stop = Stopper(inst.id.clone());
    assert_eq!(inst.status, InstanceStatus::Running);
    assert_eq!(inst.resources.disk_gb, 0.25);
    assert!(inst.id.starts_with("inst-"), "{}", inst.id);
    assert!(inst.expires_at > inst.created_at);
    assert_eq!(c.instances().get(&inst.id).unwrap().status, InstanceStatus::Running);
    assert!(c.instances().list().unwrap().iter().any(|i| i.id == inst.id));

    // Another key: not found, not listed.
    assert!(matches!(client2().instances().get(&inst.id), Err(Error::NotFound(_))));
    assert!(matches!(client2().instances().ssh_info(&inst.id), Err(Error::NotFound(_))));
    assert!(!client2().instances().list().unwrap().iter().any(|i| i.id == inst.id));

    // SSH: the private key once, then a login with the stock client through the operator's relay.
    let ssh = c.instances().ssh_info(&inst.id).unwrap();
    let private_key = ssh.private_key.clone().expect("the private key the first time");
    assert!(private_key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    assert_eq!(ssh.username, "sandbox");
    assert!(ssh.fingerprint.starts_with("SHA256:"), "{}", ssh.fingerprint);
    let host_key = ssh.host_key.clone().expect("the host key of a running instance");
    assert!(host_key.starts_with("ssh-ed25519 "), "{}", host_key);
    assert_eq!(c.instances().ssh_info(&inst.id).unwrap().private_key, None, "handed out once");
    let dir = TempDir::new("ssh");
    let key_file = dir.path("id_ed25519");
    std::fs::write(&key_file, &private_key).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let known_hosts = dir.path("known_hosts");
    std::fs::write(&known_hosts, format!("[{}]:{} {}\n", ssh.host, ssh.port, host_key)).unwrap();
    let out = Process::new("ssh")
        .args(["-i", key_file.to_str().unwrap(), "-p", &ssh.port.to_string(), "-o", "BatchMode=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
        .args(["-o", "StrictHostKeyChecking=yes", &format!("{}@{}", ssh.username, ssh.host), "echo hi $(id -u)"])
        .output()
        .expect("the ssh client runs");
    assert!(out.status.success(), "ssh failed: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi 65534\n");

    // exec, then an exposed HTTP server reached through the gateway with the URL's token.
    let serve = "mkdir -p ~/www && echo rs-hello > ~/www/a.txt && (setsid nohup python3 -m http.server 8100 --bind 127.0.0.1 --directory ~/www >/dev/null 2>&1 &) \
                 && for i in $(seq 100); do python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8100))\" 2>/dev/null && break; sleep 0.05; done; echo ok";
    let r = c.instances().exec(&inst.id, &InstanceExec::new(serve)).unwrap();
    assert_eq!((r.exit_code, r.stdout.as_str()), (0, "ok\n"), "{}", r.stderr);
    let e = c.instances().expose(&inst.id, "rsweb", 8100).unwrap();
    // Its own origin: a host name of its own under localhost, on the gateway's port.
    let gateway_port = std::env::var("FAAS_ENDPOINT").unwrap().rsplit(':').next().unwrap().trim_end_matches('/').to_string();
    assert_eq!(e.url, format!("http://{}-rsweb.localhost:{}/", inst.id, gateway_port));
    assert_eq!((e.port, e.strip_prefix), (8100, true));
    let token = e.token.clone().expect("the URL's token, at expose");
    // *.localhost is loopback (browsers and curl know it; the system resolver may not).
    let agent = ureq::AgentBuilder::new()
        .resolver(|netloc: &str| -> std::io::Result<Vec<std::net::SocketAddr>> {
            match netloc.rsplit_once(':') {
                Some((host, port)) if host.ends_with(".localhost") => Ok(vec![std::net::SocketAddr::from(([127, 0, 0, 1], port.parse().unwrap()))]),
                _ => std::net::ToSocketAddrs::to_socket_addrs(netloc).map(|a| a.collect()),
            }
        })
        .build();
    let page = agent.get(&format!("{}a.txt", e.url)).query("faas_token", &token).call().unwrap().into_string().unwrap();
    assert_eq!(page, "rs-hello\n");
    match agent.get(&format!("{}a.txt", e.url)).call() {
        Err(ureq::Error::Status(401, _)) => {}
        other => panic!("no credential: expected 401, got {:?}", other.map(|r| r.status())),
    }
    let listed = c.instances().exposures(&inst.id).unwrap();
    assert_eq!(listed.iter().map(|x| (x.name.as_str(), x.token.is_none())).collect::<Vec<_>>(), vec![("rsweb", true)]);

    // Pause freezes it, resume continues; a paused instance cannot be exec'd into at once.
    let paused = c.instances().pause(&inst.id).unwrap();
    assert_eq!(paused.status, InstanceStatus::Paused);
    assert_eq!(c.instances().get(&inst.id).unwrap().status, InstanceStatus::Paused);
    let resumed = c.instances().resume(&inst.id).unwrap();
    assert_eq!(resumed.status, InstanceStatus::Running);
    assert!(resumed.usage.paused_seconds > 0.0, "{:?}", resumed.usage);
    assert_eq!(c.instances().exec(&inst.id, &InstanceExec::new("cat ~/www/a.txt")).unwrap().stdout, "rs-hello\n");
    assert!(c.instances().unexpose(&inst.id, "rsweb").unwrap());

    // Stop removes it; what is left says why; a stopped instance exposes nothing.
    let stopped = c.instances().stop(&inst.id).unwrap();
    assert_eq!(stopped.status, InstanceStatus::Stopped);
    assert_eq!(stopped.stop_reason.as_deref(), Some("user"));
    match c.instances().expose(&inst.id, "again", 8100) {
        Err(Error::Conflict(e)) => assert_eq!((e.code, e.field.as_deref(), e.status), (ErrorCode::Conflict, Some("status"), Some(409))),
        other => panic!("expected a conflict, got {:?}", other),
    }

    // Outbound network is not offered by this operator: named by its field.
    match c.instances().start(&StartInstance { network: Some(true), ..Default::default() }) {
        Err(Error::ResourceUnavailable(e)) => assert_eq!(e.field.as_deref(), Some("network")),
        other => panic!("expected RESOURCE_UNAVAILABLE, got {:?}", other),
    }
}
