// `npm run chain`: the local Tangle services node on 127.0.0.1 (port FAAS_CHAIN_PORT, 9944).
import { startNode } from './index.js';

const node = await startNode({ port: Number(process.env.FAAS_CHAIN_PORT ?? 9944) });
process.stdout.write(`local Tangle node (runtime ${node.runtime.version.specName} ${node.runtime.version.specVersion}) at ${node.url}\n`);
const stop = () => void node.stop().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
