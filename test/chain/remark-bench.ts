// Not a test (vitest only runs *.test.ts): a latency probe of the local node.
// `npx tsx test/chain/remark-bench.ts [N] [PREFILL]` starts the node in-process and sends N
// system.remark (finalized) sequentially from one account, then N rounds of 20 at once from
// 20 accounts; prints p50/p95 per remark and total time. PREFILL empty blocks are sealed
// first, to see how the node fares once its chain is long. Profile with
// `node --import tsx --cpu-prof test/chain/remark-bench.ts`.
import { startNode } from '../../chain/src/index.js';
import { TxSender, accountFromUri, connectApi } from '../../src/tangle/index.js';
import WebSocket from 'ws';

const N = Number(process.argv[2] ?? 200);
const PREFILL = Number(process.argv[3] ?? 0);
const PAR = 20;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const show = (label: string, xs: number[], total: number) =>
  console.log(`${label.padEnd(34)} n=${xs.length} p50 ${pct(xs, 50).toFixed(1)} ms  p95 ${pct(xs, 95).toFixed(1)} ms  total ${total.toFixed(0)} ms  (${((xs.length / total) * 1000).toFixed(0)}/s)`);

const node = await startNode({ port: 0 });
let t = performance.now();
for (let i = 0; i < PREFILL; i++) node.pool.sealEmpty();
if (PREFILL) console.log(`prefill: ${PREFILL} empty blocks in ${(performance.now() - t).toFixed(0)} ms`);
const api = await connectApi(node.url);
try {
  const alice = new TxSender(api, accountFromUri(api, '//Alice'));
  const senders = Array.from({ length: PAR }, (_, i) => new TxSender(api, accountFromUri(api, `//Bench${i}`)));
  await Promise.all(senders.map((s) => alice.send(api.tx.balances!.transferKeepAlive!(s.pair.address, 10n ** 21n))));
  const remark = () => api.tx.system!.remark!('0x00');
  for (let i = 0; i < 10; i++) await senders[0]!.send(remark()); // warm-up

  const seq: number[] = [];
  let t0 = performance.now();
  for (let i = 0; i < N; i++) {
    t = performance.now();
    await senders[0]!.send(remark());
    seq.push(performance.now() - t);
  }
  show('sequential (1 account)', seq, performance.now() - t0);

  const par: number[] = [];
  t0 = performance.now();
  for (let r = 0; r < Math.ceil(N / PAR); r++) {
    await Promise.all(
      senders.map(async (s) => {
        const t = performance.now();
        await s.send(remark());
        par.push(performance.now() - t);
      }),
    );
  }
  show(`concurrent (${PAR} accounts at once)`, par, performance.now() - t0);

  // The node alone: remarks signed beforehand, sent over a bare WebSocket with
  // author_submitAndWatchExtrinsic, timed until their finalized notification.
  const signer = senders[1]!;
  const first = (await api.rpc.system.accountNextIndex(signer.pair.address)).toNumber();
  const signedTxs: string[] = [];
  for (let i = 0; i < N; i++) signedTxs.push((await remark().signAsync(signer.pair, { nonce: first + i, era: 0 })).toHex());
  const ws = new WebSocket(node.url);
  await new Promise((r) => ws.once('open', r));
  let pending: ((m: { method?: string; params?: { result?: unknown } }) => void) | null = null;
  ws.on('message', (raw) => pending?.(JSON.parse(raw.toString())));
  const bare: number[] = [];
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    t = performance.now();
    await new Promise<void>((resolve) => {
      pending = (m) => {
        const r = m.params?.result as { finalized?: string } | undefined;
        if (m.method === 'author_extrinsicUpdate' && r?.finalized) resolve();
      };
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'author_submitAndWatchExtrinsic', params: [signedTxs[i]] }));
    });
    bare.push(performance.now() - t);
  }
  show('node alone (bare ws, pre-signed)', bare, performance.now() - t0);
  ws.close();
  console.log(`head #${node.chain.head.number}`);
} finally {
  await api.disconnect();
  await node.stop();
}
