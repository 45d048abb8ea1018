// The FaaS blueprint's service manager (contracts/FaaSServiceManager.sol, this project's own
// Solidity): compiled with solc-js (npm `solc`, a devDependency) the first time its source is
// seen, the output cached under .faas/evm-contracts/<source hash>.json (gitignored), so later
// deployments skip the ~seconds of loading the compiler; then deployed for one Tangle contract.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeDeployData, parseAbi } from 'viem';
import type { Abi, Address, Hex } from 'viem';
import type { EvmAccount } from '../../src/tangle/evm/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SOURCE = path.join(here, 'contracts', 'FaaSServiceManager.sol');
const NAME = 'FaaSServiceManager';
/** The compiler the source is pinned to (`pragma solidity 0.8.26`). */
const SOLC_VERSION = '0.8.26';
const SETTINGS = { optimizer: { enabled: true, runs: 200 }, evmVersion: 'cancun', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } };

export class ContractBuildError extends Error {
  readonly code = 'CONTRACT_BUILD_FAILED';
}

export interface CompiledContract {
  abi: Abi;
  bytecode: Hex;
}

/** The manager's views and its one owner call, as the operator, client and tests use them. */
export const managerAbi = parseAbi([
  'function getRequiredResultCount(uint64 serviceId, uint8 jobIndex) view returns (uint32)',
  'function requiresAggregation(uint64 serviceId, uint8 jobIndex) view returns (bool)',
  'function setRequiredResults(uint64 serviceId, uint32 required)',
  'function requiredResults(uint64 serviceId) view returns (uint32)',
  'function serviceOwner(uint64 serviceId) view returns (address)',
  'function blueprintId() view returns (uint64)',
  'function tangle() view returns (address)',
]);

function cacheDir(): string {
  return process.env.FAAS_CONTRACT_CACHE ?? path.resolve(here, '..', '..', '.faas', 'evm-contracts');
}

interface SolcOutput {
  errors?: Array<{ severity: string; formattedMessage: string }>;
  contracts?: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
}

/** The manager's ABI and creation code: from the cache when its source (and the settings) are
 *  unchanged, else compiled now and cached. */
export function compileServiceManager(): CompiledContract {
  const source = readFileSync(SOURCE, 'utf8');
  const key = createHash('sha256').update(JSON.stringify({ source, SOLC_VERSION, SETTINGS })).digest('hex').slice(0, 32);
  const cached = path.join(cacheDir(), `${NAME}-${key}.json`);
  if (existsSync(cached)) return JSON.parse(readFileSync(cached, 'utf8')) as CompiledContract;
  const require = createRequire(import.meta.url);
  let solc: { version(): string; compile(input: string): string };
  try {
    solc = require('solc') as typeof solc;
  } catch (err) {
    throw new ContractBuildError(`solc: the npm package solc@${SOLC_VERSION} is needed to compile ${NAME}.sol (npm install): ${(err as Error).message}`);
  }
  if (!solc.version().startsWith(`${SOLC_VERSION}+`)) throw new ContractBuildError(`solc: ${NAME}.sol needs solc ${SOLC_VERSION}, the installed one is ${solc.version()}`);
  const input = { language: 'Solidity', sources: { [`${NAME}.sol`]: { content: source } }, settings: SETTINGS };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new ContractBuildError(`${NAME}.sol: ${errors.map((e) => e.formattedMessage).join('\n')}`);
  const c = out.contracts?.[`${NAME}.sol`]?.[NAME];
  if (!c?.evm.bytecode.object) throw new ContractBuildError(`${NAME}.sol: solc produced no bytecode for ${NAME}`);
  const compiled: CompiledContract = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
  mkdirSync(cacheDir(), { recursive: true });
  const tmp = `${cached}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(compiled));
  renameSync(tmp, cached); // whole or not at all, when two processes compile at once
  return compiled;
}

/** Deploys a FaaSServiceManager for `tangle` from `deployer`; resolves with its address. */
export async function deployServiceManager(deployer: EvmAccount, tangle: Address): Promise<Address> {
  const { abi, bytecode } = compileServiceManager();
  return deployer.sender.deploy(encodeDeployData({ abi, bytecode, args: [tangle] }));
}
