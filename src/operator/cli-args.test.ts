// The command-line plumbing of faas-operator and npm start (pure: no process, no chain).
import { describe, expect, it } from 'vitest';
import { Runtime } from '../../chain/src/runtime.js';
import { ChainTxError } from '@faas/sdk/chain';
import { Settings, UsageError, helpText, oneOf, parseCommandLine, port, urlWith, wholeNumbers } from './cli-args.js';
import type { CommandSpec } from './cli-args.js';
import { describeChainFailure } from './cli-chain.js';
import { COMMANDS, KEY_COMMANDS } from './cli-spec.js';

const spec: CommandSpec = {
  name: 'tool thing',
  summary: 'Does a thing.',
  args: 'ID',
  positionals: { min: 1, max: 1 },
  options: {
    rpc: { value: 'URL', env: 'TOOL_RPC', default: 'ws://x', help: 'the node' },
    quiet: { short: 'q', help: 'say less' },
  },
};

const usage = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no UsageError');
};

describe('parseCommandLine', () => {
  it('reads options (separate or inline values, short switches) and positionals', () => {
    expect(parseCommandLine(spec, ['7', '--rpc', 'ws://a', '-q'])).toEqual({ help: false, version: false, values: { rpc: 'ws://a', quiet: 'true' }, positionals: ['7'] });
    expect(parseCommandLine(spec, ['--rpc=ws://b', '--', '-8']).values.rpc).toBe('ws://b');
    expect(parseCommandLine(spec, ['--rpc=ws://b', '--', '-8']).positionals).toEqual(['-8']);
  });

  it('--help and --version answer whatever else is there', () => {
    expect(parseCommandLine(spec, ['--nope', '-h'])).toMatchObject({ help: true });
    expect(parseCommandLine(spec, ['--version'])).toMatchObject({ version: true, positionals: [] });
  });

  it('refuses with one line naming the option', () => {
    expect(usage(() => parseCommandLine(spec, ['1', '--nope']))).toBe('unknown option --nope');
    expect(usage(() => parseCommandLine(spec, ['1', '-z']))).toBe('unknown option -z');
    expect(usage(() => parseCommandLine(spec, ['1', '--rpc']))).toBe('--rpc needs a value (URL)');
    expect(usage(() => parseCommandLine(spec, ['1', '--rpc', '--quiet']))).toBe('--rpc needs a value (URL)');
    expect(usage(() => parseCommandLine(spec, ['1', '--rpc=']))).toBe('--rpc needs a value (URL)');
    expect(usage(() => parseCommandLine(spec, ['1', '--quiet=yes']))).toBe('--quiet takes no value');
    expect(usage(() => parseCommandLine(spec, []))).toBe('missing argument: ID');
    expect(usage(() => parseCommandLine(spec, ['1', '2']))).toBe('unexpected argument "2"');
    expect(usage(() => parseCommandLine(spec, ['1', '--toString']))).toBe('unknown option --toString'); // not the prototype's
  });
});

describe('Settings', () => {
  it('takes the option, else the environment, and names where a bad value came from', () => {
    const fromFlag = new Settings(spec, { rpc: 'http://a' }, { TOOL_RPC: 'ws://env' });
    expect(fromFlag.get('rpc')).toEqual({ text: 'http://a', source: '--rpc' });
    expect(usage(() => fromFlag.parse('rpc', urlWith('ws:')))).toBe('--rpc: expected a ws:// URL, got "http://a"');
    const fromEnv = new Settings(spec, {}, { TOOL_RPC: 'nope' });
    expect(usage(() => fromEnv.parse('rpc', urlWith('ws:', 'wss:')))).toBe('TOOL_RPC: expected a ws:// or wss:// URL, got "nope"');
    const unset = new Settings(spec, {}, { TOOL_RPC: '' });
    expect(unset.parse('rpc', urlWith('ws:'))).toBeUndefined();
    expect(usage(() => unset.required('rpc', 'the node to ask'))).toBe('--rpc (or TOOL_RPC) is needed: the node to ask');
  });

  it('readers say what they expected', () => {
    expect(port('0')).toBe(0);
    expect(() => port('65536')).toThrow('expected a port number from 0 to 65535, got "65536"');
    expect(wholeNumbers(' 1, 2 ,')).toEqual([1n, 2n]);
    expect(() => wholeNumbers('1,b')).toThrow('expected whole numbers separated by commas');
    expect(() => oneOf('a', 'b')('c')).toThrow('expected a or b, got "c"');
  });
});

describe('helpText', () => {
  it('gives the synopsis, summary, every option with its variable and default, and the standard ones', () => {
    const text = helpText(spec);
    expect(text.split('\n').slice(0, 3)).toEqual(['usage: tool thing ID [options]', '', 'Does a thing.']);
    expect(text).toMatch(/ {6}--rpc URL +the node \(TOOL_RPC; default ws:\/\/x\)/);
    expect(text).toMatch(/ {2}-q, --quiet +say less/);
    expect(text).toMatch(/ {2}-h, --help +show this help and exit/);
    expect(text).toMatch(/ {6}--version +show the version and exit/);
  });

  it('every operator command’s help names each of its options', () => {
    for (const c of [...Object.values(COMMANDS), ...Object.values(KEY_COMMANDS)]) {
      const text = helpText(c);
      for (const name of Object.keys(c.options)) expect(text, `${c.name} --${name}`).toContain(`--${name}`);
    }
  });
});

describe('describeChainFailure', () => {
  // Error docs as a connected API finds them (`registry.findMetaError`), from Tangle's real
  // runtime metadata (the file the local node serves), without a node.
  const runtime = new Runtime();
  const docs = (section: string, name: string) => {
    try {
      const { Module } = runtime.moduleError(section[0]!.toUpperCase() + section.slice(1), name);
      return runtime.registry.findMetaError(new Uint8Array([Module.index, Module.error[0]!])).docs;
    } catch {
      return undefined;
    }
  };

  it('a pallet error: its name and the docs the metadata gives', () => {
    expect(describeChainFailure(new ChainTxError('multiAssetDelegation.BondTooLow'), docs)).toBe('multiAssetDelegation.BondTooLow: The stake amount is too low.');
    const services = describeChainFailure(new ChainTxError('services.NotRegistered'), docs);
    expect(services).toMatch(/^services\.NotRegistered: \S.*[^ ]$/);
    expect(services).not.toContain('\n');
    expect(describeChainFailure(new ChainTxError('services.NoSuchError'), docs)).toBe('services.NoSuchError');
  });

  it('another dispatch error, as Substrate prints it, in words', () => {
    const none = () => undefined;
    expect(describeChainFailure(new ChainTxError('{"token":"FundsUnavailable"}'), none)).toBe('dispatch error: token.FundsUnavailable');
    expect(describeChainFailure(new ChainTxError('{"badOrigin":null}'), none)).toBe('dispatch error: badOrigin');
    expect(describeChainFailure(new ChainTxError('1010: Invalid Transaction: Inability to pay some fees'), none)).toBe('1010: Invalid Transaction: Inability to pay some fees');
    expect(describeChainFailure(new Error('socket hang up'), none)).toBe('socket hang up');
  });
});
