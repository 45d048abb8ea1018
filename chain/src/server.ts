// JSON-RPC 2.0 over WebSocket, as Substrate nodes serve it to @polkadot/api and
// polkadot.js apps: requests, batches, and subscriptions with notifications.
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type WebSocket from 'ws';
import { METHOD_NOT_FOUND, RpcError } from './rpc/index.js';
import type { Handler, RpcContext, Subscription } from './rpc/index.js';

interface Request {
  jsonrpc?: string;
  id?: number | string | null;
  method?: unknown;
  params?: unknown;
}

export interface RpcServer {
  url: string;
  port: number;
  close(): Promise<void>;
  suspend(): Promise<void>;
  resume(): Promise<void>;
}

export async function serveRpc(
  ctx: RpcContext,
  rpc: { handlers: Map<string, Handler>; subscriptions: Map<string, Subscription> },
  opts: { host: string; port: number },
): Promise<RpcServer> {
  const unsubscribeMethods = new Map([...rpc.subscriptions.values()].map((s) => [s.unsubscribe, s]));
  let nextSub = 1;

  const onConnection = (ws: WebSocket) => {
    const active = new Map<string, () => void>();
    const send = (obj: unknown) => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(obj));
    };

    const handle = async (req: Request): Promise<unknown> => {
      const id = req.id ?? null;
      const method = typeof req.method === 'string' ? req.method : '';
      const params = Array.isArray(req.params) ? req.params : req.params === undefined ? [] : [req.params];
      try {
        const sub = rpc.subscriptions.get(method);
        if (sub) {
          const subId = `0x${(nextSub++).toString(16).padStart(16, '0')}`;
          // Answer with the id first: notifications for it may follow at once.
          const queued: unknown[] = [];
          let answered = false;
          const emit = (result: unknown) => {
            const note = { jsonrpc: '2.0', method: sub.notification, params: { subscription: subId, result } };
            if (answered) send(note);
            else queued.push(note);
          };
          active.set(subId, sub.start(ctx, params, emit));
          send({ jsonrpc: '2.0', id, result: subId });
          answered = true;
          for (const n of queued) send(n);
          return undefined;
        }
        if (unsubscribeMethods.has(method)) {
          const stop = active.get(String(params[0]));
          active.delete(String(params[0]));
          stop?.();
          return { jsonrpc: '2.0', id, result: Boolean(stop) };
        }
        const handler = rpc.handlers.get(method);
        if (!handler) throw new RpcError(METHOD_NOT_FOUND, `Method not found: ${method}`);
        return { jsonrpc: '2.0', id, result: (await handler(ctx, params)) ?? null };
      } catch (err) {
        const e = err instanceof RpcError ? err : new RpcError(-32603, (err as Error).message);
        return { jsonrpc: '2.0', id, error: { code: e.code, message: e.message, ...(e.data === undefined ? {} : { data: e.data }) } };
      }
    };

    ws.on('message', async (raw) => {
      let msg: Request | Request[];
      try {
        msg = JSON.parse(raw.toString()) as Request | Request[];
      } catch {
        send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
        return;
      }
      if (Array.isArray(msg)) {
        const out = (await Promise.all(msg.map(handle))).filter((r) => r !== undefined);
        if (out.length) send(out);
      } else {
        const out = await handle(msg);
        if (out !== undefined) send(out);
      }
    });
    ws.on('close', () => {
      for (const stop of active.values()) stop();
      active.clear();
    });
  };

  const listen = async (port: number): Promise<WebSocketServer> => {
    const server = new WebSocketServer({ host: opts.host, port, maxPayload: 16 << 20 });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.on('connection', onConnection);
    return server;
  };
  const shut = (server: WebSocketServer) =>
    new Promise<void>((resolve) => {
      for (const c of server.clients) c.terminate();
      server.close(() => resolve());
    });

  let wss = await listen(opts.port);
  const port = (wss.address() as AddressInfo).port;
  return {
    url: `ws://${opts.host}:${port}`,
    port,
    close: () => shut(wss),
    // Drop every connection and stop listening; the chain itself goes on (for reconnect tests).
    suspend: () => shut(wss),
    resume: async () => {
      wss = await listen(port);
    },
  };
}
