// prefix-proxy.mjs <host> <port> <base_path> <unix_socket>
// Serves an HTTP server listening on <unix_socket> (code-server) at http://<host>:<port>, both
// under <base_path> (the prefix is taken off before forwarding) and at / (requests without the
// prefix pass as they are). Websocket upgrades are forwarded the same way. Headers, Host
// included, pass unchanged. `<base_path>` without its trailing slash redirects to it.
import http from 'node:http';
import net from 'node:net';
import process from 'node:process';

const [host, portArg, baseArg, socketPath] = process.argv.slice(2);
if (!host || !portArg || !baseArg || !socketPath) {
  process.stderr.write('usage: prefix-proxy.mjs <host> <port> <base_path> <unix_socket>\n');
  process.exit(2);
}
const prefix = baseArg.replace(/\/+$/, ''); // '' when the base path is /
const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** The path to forward, or null when the client must be redirected to `<prefix>/`. */
function strip(url) {
  if (!prefix) return url;
  if (url === prefix || url.startsWith(`${prefix}?`)) return null;
  if (url.startsWith(`${prefix}/`)) return url.slice(prefix.length);
  return url;
}

function headersWithout(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  return out;
}

const server = http.createServer((req, res) => {
  const path = strip(req.url ?? '/');
  if (path === null) {
    res.writeHead(308, { location: `${prefix}/${(req.url ?? '').slice(prefix.length)}` });
    res.end();
    return;
  }
  const headers = {};
  const raw = headersWithout(req.rawHeaders);
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    headers[k] = k in headers ? `${headers[k]}, ${raw[i + 1]}` : raw[i + 1];
  }
  const upstream = http.request({ socketPath, method: req.method, path, headers }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.statusMessage, headersWithout(up.rawHeaders));
    up.pipe(res);
  });
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`upstream error: ${err.message}\n`);
  });
  req.pipe(upstream);
});

server.on('upgrade', (req, socket, head) => {
  const path = strip(req.url ?? '/') ?? '/';
  const upstream = net.connect(socketPath, () => {
    let text = `${req.method} ${path} HTTP/${req.httpVersion}\r\n`;
    for (let i = 0; i < req.rawHeaders.length; i += 2) text += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    upstream.write(`${text}\r\n`);
    if (head.length) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  const close = () => {
    socket.destroy();
    upstream.destroy();
  };
  upstream.on('error', close);
  socket.on('error', close);
  upstream.on('close', close);
  socket.on('close', close);
});

server.on('clientError', (_err, socket) => socket.destroy());
server.keepAliveTimeout = 65_000;
server.listen(Number(portArg), host, () => process.stdout.write(`prefix-proxy on ${host}:${portArg}${prefix}/ -> ${socketPath}\n`));
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
