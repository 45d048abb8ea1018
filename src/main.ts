// `npm start`: the operator's main job. This file reads the command line (strictly: --help and
// --version answer without starting anything, an unknown option or a bad value exits 2 with one
// line) and only then loads and starts the stack (src/main-stack.ts).
import { Settings, UsageError, evmAddress, helpText, oneOf, parseCommandLine, projectVersion, smallWholeNumber, urlWith, wholeNumbers } from './operator/cli-args.js';
import type { CommandSpec } from './operator/cli-args.js';

/** Dev accounts main-stack.ts has for operators of the local service. */
const MAX_LOCAL_OPERATORS = 4;

const SPEC: CommandSpec = {
  name: 'npm start --',
  summary: [
    'The operator’s main job. With no options: the sandbox engine on the local Docker host (python first; the other languages’ images after the first job, then a hello world per language),',
    'the local Tangle services node on 127.0.0.1:9944, the FaaS blueprint created by //Alice, //Bob joined as operator and',
    'registered, a service (owner //Alice, //Charlie may call it) requested and approved, the operator and its API (gateway)',
    'serving it, and a first job sent through the chain and verified. It runs until Ctrl-C (the local chain is in memory).',
  ].join('\n'),
  options: {
    operators: { value: 'N', env: 'FAAS_LOCAL_OPERATORS', default: '1', help: `operators of the local service, 1 to ${MAX_LOCAL_OPERATORS} (//Bob, //Dave, //Eve, //Ferdie)` },
    chain: { value: 'KIND', env: 'FAAS_CHAIN', default: 'substrate', help: 'substrate, or evm: the same on Tangle’s EVM protocol (tnt-core) on a local anvil' },
    rpc: { value: 'URL', env: 'FAAS_RPC_URL', help: 'serve a real chain instead (ws:// or wss://; with --chain evm http(s)://) with the account FAAS_SURI (with --chain evm FAAS_EVM_PRIVATE_KEY), from the environment only' },
    services: { value: 'IDS', env: 'FAAS_SERVICE_IDS', help: 'with --rpc: the services to serve, e.g. 1,2' },
    tangle: { value: 'ADDRESS', env: 'TANGLE_CONTRACT', help: 'with --chain evm --rpc: the Tangle contract' },
  },
  notes: [
    '`npm start` runs scripts/setup-host.sh --first-job first (Docker, the base and python images; a second or two once in place). The other FAAS_* settings (API address, sandbox limits, pools, prices) come from the environment; see the README. The operator CLI is `faas-operator --help` (`npm run operator -- --help`).',
  ],
};

/** The stack's options, checked before anything starts. */
function options(values: Record<string, string>) {
  const s = new Settings(SPEC, values);
  const chain = s.parse('chain', oneOf('substrate', 'evm')) ?? 'substrate';
  const rpc = s.parse('rpc', chain === 'evm' ? urlWith('http:', 'https:', 'ws:', 'wss:') : urlWith('ws:', 'wss:'));
  const operators = s.parse('operators', (t) => {
    const n = smallWholeNumber(t);
    if (n < 1 || n > MAX_LOCAL_OPERATORS) throw new Error(`expected a whole number from 1 to ${MAX_LOCAL_OPERATORS}, got ${JSON.stringify(t)}`);
    return n;
  });
  if (!rpc) return { chain, operators: operators ?? 1, services: [] };
  // Serving a real chain: its account, services and (on EVM) contract, before Docker starts.
  const services = s.parse('services', wholeNumbers) ?? [];
  if (chain === 'evm') {
    const key = process.env.FAAS_EVM_PRIVATE_KEY;
    if (!key || !/^0x[0-9a-fA-F]{64}$/.test(key)) throw new UsageError('FAAS_EVM_PRIVATE_KEY is needed with --chain evm --rpc: the operator account’s private key (0x + 64 hex digits)');
    const tangle = s.parseRequired('tangle', 'the Tangle contract address, with --chain evm --rpc', evmAddress);
    return { chain, rpc, account: key, tangle, services, operators: 1 };
  }
  const suri = process.env.FAAS_SURI;
  if (!suri) throw new UsageError('FAAS_SURI is needed with --rpc: the operator account (mnemonic or dev URI such as //Bob)');
  return { chain, rpc, account: suri, services, operators: 1 };
}

async function main(argv: string[]): Promise<void> {
  let stack: Parameters<typeof import('./main-stack.js').startStack>[0];
  try {
    const parsed = parseCommandLine(SPEC, argv);
    if (parsed.help) return void process.stdout.write(helpText(SPEC));
    if (parsed.version) return void process.stdout.write(`${projectVersion()}\n`);
    stack = options(parsed.values);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`npm start: ${err.message} (see npm start -- --help)\n`);
    process.exit(2);
  }
  const { startStack } = await import('./main-stack.js');
  await startStack(stack);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
