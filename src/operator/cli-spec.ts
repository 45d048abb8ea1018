// What `faas-operator` (src/operator/cli.ts) accepts, command by command: the one source of
// its strict parse, its --help texts and the option names in its messages.
import type { CommandSpec, OptionSpec } from './cli-args.js';
import { AMOUNT_FORMS } from './units.js';

export const PROGRAM = 'faas-operator';

const rpc: OptionSpec = { value: 'URL', env: 'FAAS_RPC_URL', default: 'ws://127.0.0.1:9944, with --chain evm http://127.0.0.1:8545', help: 'the chain node to use' };
const chain: OptionSpec = { value: 'KIND', env: 'FAAS_CHAIN', default: 'substrate', help: 'substrate (a Tangle node) or evm (Tangle’s EVM protocol, tnt-core)' };
const db: OptionSpec = { value: 'PATH', env: 'FAAS_DB_PATH', default: '.faas/operator.db', help: 'the job store and API key database' };
const apiHost: OptionSpec = { value: 'HOST', env: 'FAAS_API_HOST', default: '127.0.0.1', help: 'address the operator API listens on' };
const apiPort: OptionSpec = { value: 'PORT', env: 'FAAS_API_PORT', default: '8080', help: 'port of the operator API (0: any free port)' };
const tangle: OptionSpec = { value: 'ADDRESS', env: 'TANGLE_CONTRACT', help: 'with --chain evm: the Tangle contract' };

const ACCOUNT = 'The account is FAAS_SURI (a mnemonic or dev URI such as //Bob), from the environment only — a flag would show in `ps` — and it is never printed; with --chain evm it is FAAS_EVM_PRIVATE_KEY (0x + 64 hex digits).';
const AMOUNTS = `Amounts are ${AMOUNT_FORMS}; token amounts use the chain's decimals (a Tangle node says 18).`;

export const COMMANDS: Record<string, CommandSpec> = {
  register: {
    name: `${PROGRAM} register`,
    summary: 'Join the operators with a bond (if not yet) and register for the FaaS blueprint with the operator’s signing key and API address. Run again, it changes nothing.',
    options: {
      blueprint: { value: 'ID', env: 'FAAS_BLUEPRINT_ID', help: 'the FaaS blueprint to register for' },
      'api-url': { value: 'URL', env: 'FAAS_API_URL', default: 'http://<api-host>:<api-port>', help: 'the operator API address callers reach (registered on-chain)' },
      bond: { value: 'AMOUNT', env: 'FAAS_BOND', default: 'the runtime’s minimum; with --chain evm 10', help: 'the bond (stake) to join the operators with' },
      rpc,
      chain,
      'api-host': apiHost,
      'api-port': apiPort,
      tangle,
      staking: { value: 'ADDRESS', env: 'RESTAKING_CONTRACT', help: 'with --chain evm: the staking (MultiAssetDelegation) contract' },
    },
    notes: [ACCOUNT, AMOUNTS],
  },
  run: {
    name: `${PROGRAM} run`,
    summary: 'The operator service: job calls of its services on-chain → sandbox → signed results on-chain, and its API (gateway and full outputs). Runs until Ctrl-C.',
    options: {
      services: { value: 'IDS', env: 'FAAS_SERVICE_IDS', help: 'the services to serve, e.g. 1,2' },
      rpc,
      chain,
      db,
      'api-host': apiHost,
      'api-port': apiPort,
      tangle,
      'from-block': { value: 'N', env: 'FAAS_EVM_FROM_BLOCK', default: '0', help: 'with --chain evm: the first block to read the Tangle contract’s logs from (its deployment block; on a long chain reading from 0 is slow)' },
      'status-registry': { value: 'ADDRESS', env: 'STATUS_REGISTRY_CONTRACT', default: 'the one the Tangle contract names', help: 'with --chain evm: the OperatorStatusRegistry that gets liveness heartbeats (every FAAS_HEARTBEAT_MS, default a third of its interval; 0: none)' },
    },
    notes: [ACCOUNT, 'The other FAAS_* settings (sandbox limits, pools, prices) come from the environment; see the README.'],
  },
  status: {
    name: `${PROGRAM} status`,
    summary: 'Where the account stands on-chain (balance, bond, blueprints registered for, services operated) and the local job store.',
    options: { rpc, db },
    notes: ['The account is FAAS_SURI (environment only; never printed). Balances and bonds are shown in the chain’s token with its decimals.'],
  },
  keys: {
    name: `${PROGRAM} keys`,
    summary: 'The gateway’s API keys (stored hashed in the database).',
    options: { db },
    commands: [
      ['create', 'create a key and print its secret (once)'],
      ['list', 'list the keys, their limits and whether revoked'],
      ['revoke ID', 'revoke a key'],
      ['credit ID AMOUNT', 'add credit to a key (a key at or below zero balance may not run anything)'],
    ],
    notes: [`See ${PROGRAM} keys <command> --help.`],
  },
};

export const KEY_COMMANDS: Record<string, CommandSpec> = {
  create: {
    name: `${PROGRAM} keys create`,
    summary: 'Create an API key and print its secret (shown only now; stored hashed).',
    options: {
      name: { value: 'NAME', default: 'default', help: 'a name to tell keys apart' },
      requests: { value: 'N', help: 'rate limit: requests per window' },
      'window-ms': { value: 'MS', default: '60000', help: 'rate limit window' },
      concurrency: { value: 'N', help: 'executions at once' },
      credit: { value: 'C', help: 'credit (≥ 0; default FAAS_DEFAULT_CREDIT)' },
      db,
    },
  },
  list: { name: `${PROGRAM} keys list`, summary: 'List the API keys, their limits, and whether revoked.', options: { db } },
  revoke: { name: `${PROGRAM} keys revoke`, summary: 'Revoke an API key (see keys list for ids).', args: 'ID', positionals: { min: 1, max: 1 }, options: { db } },
  credit: {
    name: `${PROGRAM} keys credit`,
    summary: 'Add credit to an API key (usage is charged against it; at or below zero it may not run anything).',
    args: 'ID AMOUNT',
    positionals: { min: 2, max: 2 },
    options: { db },
  },
};

export const OVERVIEW: CommandSpec = {
  name: PROGRAM,
  summary: 'The Tangle FaaS operator: register on-chain, run the operator service, see where it stands, manage API keys.',
  options: {},
  commands: [
    ['register', COMMANDS.register!.summary.split('. ')[0]!],
    ['run', 'the operator service (chain → sandbox → signed results) and its API'],
    ['status', 'the account on-chain and the local job store'],
    ['keys', 'the gateway’s API keys: create, list, revoke, credit'],
    ['help [COMMAND]', 'the help of a command'],
  ],
  notes: [`${PROGRAM} <command> --help shows a command's options. From a clone, \`npm run operator -- <command>\` is the same program. Exit codes: 0 done, 1 failed, 2 wrong command line or setting.`],
};
