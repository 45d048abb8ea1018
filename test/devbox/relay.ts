// A host TCP port that reaches 127.0.0.1:<port> inside a container without a network: each
// accepted connection runs `docker exec -i <container> python3 -c <relay> <port>`, and the
// in-container relay joins its stdin/stdout to a TCP connection there. One `docker exec` per
// connection (~0.1-0.3 s to open), so clients that keep connections alive (browsers, HTTP
// agents) work well. For tests; the instance manager has its own production proxy.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';

// The same as the image's /opt/faas/devbox/tcp-relay, inline so it works with any image that
// has python3.
const RELAY_PY = `
import os, socket, sys, threading
conn = socket.create_connection((sys.argv[2], int(sys.argv[1])), timeout=10)
conn.settimeout(None)
def up():
    try:
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            conn.sendall(data)
    except OSError:
        pass
    try:
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=up, daemon=True).start()
try:
    while True:
        data = conn.recv(65536)
        if not data:
            break
        view = memoryview(data)
        while view:
            view = view[os.write(1, view):]
except OSError:
    pass
`;

export interface Relay {
  /** The host port (on 127.0.0.1) that leads to the container's port. */
  port: number;
  /** http://127.0.0.1:<port><path> */
  url(path?: string): string;
  /** Connections opened so far (one `docker exec` each). */
  connections(): number;
  close(): Promise<void>;
}

export async function startRelay(containerId: string, targetPort: number, targetHost = '127.0.0.1'): Promise<Relay> {
  const children = new Set<ChildProcess>();
  const sockets = new Set<net.Socket>();
  let opened = 0;
  const server = net.createServer((sock) => {
    opened++;
    sockets.add(sock);
    const child = spawn('docker', ['exec', '-i', containerId, 'python3', '-c', RELAY_PY, String(targetPort), targetHost], {
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    children.add(child);
    child.stdin!.on('error', () => undefined); // the relay ended first
    sock.on('error', () => child.kill());
    sock.pipe(child.stdin!);
    child.stdout!.pipe(sock);
    sock.on('close', () => {
      sockets.delete(sock);
      child.stdin!.end();
      setTimeout(() => child.kill(), 2000).unref();
    });
    child.on('close', () => {
      children.delete(child);
      sock.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    connections: () => opened,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      const exits = [...children].map((c) => new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : c.once('close', () => resolve()))));
      for (const c of children) c.kill();
      await Promise.all([closed, ...exits]);
    },
  };
}
