// `npm run chain:fork -- --endpoint wss://… [--block N] [--port 8000]`: forks a live Tangle
// endpoint with chopsticks on 127.0.0.1, so an operator (`npm start -- --rpc ws://…`) can run
// against the real runtime and state. Blocks are built one per transaction; nothing reaches
// the live chain. Runs until Ctrl-C; the fork's state is thrown away then.
import { parseArgs } from 'node:util';
import { startChopsticks } from './index.js';

const usage = 'usage: npm run chain:fork -- --endpoint wss://<tangle rpc> [--block <number|hash>] [--port 8000]';
let values: { endpoint?: string; block?: string; port?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: { endpoint: { type: 'string' }, block: { type: 'string' }, port: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  }));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${usage}\n`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}
if (!values.endpoint) {
  process.stderr.write(`--endpoint is required\n${usage}\n`);
  process.exit(2);
}
const port = Number(values.port ?? 8000);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write(`--port: not a port number: ${values.port}\n`);
  process.exit(2);
}
const block = values.block === undefined ? undefined : /^\d+$/.test(values.block) ? Number(values.block) : values.block;

const progress = (line: string) => process.stderr.write(`${line}\n`);
let node;
try {
  node = await startChopsticks({ endpoint: values.endpoint, block, port, progress });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
const head = (await node.rpc<{ number: string }>('chain_getHeader')).number;
const version = await node.rpc<{ specName: string; specVersion: number }>('state_getRuntimeVersion');
process.stdout.write(`fork of ${values.endpoint} at block #${Number(head)} (runtime ${version.specName} ${version.specVersion}) ready at ${node.url}\n`);
process.stdout.write(`chopsticks log: ${node.logFile}; Ctrl-C to stop\n`);
// `on`, not `once`: Ctrl-C reaches us twice (from the terminal and relayed by tsx).
const stop = () => void node.stop().then(() => process.exit(0));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, stop);
