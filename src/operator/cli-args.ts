// Command lines as the operator's programs read them (`faas-operator`, `npm start`): each
// command declares its options once, and that one declaration gives the strict parse, the
// `--help` text and the names in error messages. Parsing is Node's `util.parseArgs`; what it
// lets through loosely (an unknown option, a missing value) is refused here with a one-line
// UsageError that names the option — the programs print it and exit 2, never a stack.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/** A wrong command line or setting: one line for the user, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface OptionSpec {
  /** The value's placeholder in help (`URL`, `ID`); an option without one is a switch. */
  value?: string;
  short?: string;
  /** The environment variable that gives the same setting (the option wins). */
  env?: string;
  /** Shown in help when the option and the environment are both unset. */
  default?: string;
  help: string;
}

export interface CommandSpec {
  /** How it is invoked, e.g. `faas-operator keys create`. */
  name: string;
  /** One line: what it does. */
  summary: string;
  /** What follows the name in the synopsis besides options, e.g. `ID AMOUNT`. */
  args?: string;
  /** How many positional arguments it takes (default none). */
  positionals?: { min: number; max: number };
  options: Record<string, OptionSpec>;
  /** Subcommands, for an overview: [name, summary]. */
  commands?: Array<[string, string]>;
  /** Paragraphs after the options. */
  notes?: string[];
}

/** Every command has these. */
export const STANDARD_OPTIONS: Record<string, OptionSpec> = {
  help: { short: 'h', help: 'show this help and exit' },
  version: { help: 'show the version and exit' },
};

export interface ParsedCommandLine {
  help: boolean;
  version: boolean;
  /** The options given, by name (the last occurrence wins). */
  values: Record<string, string>;
  positionals: string[];
}

/** Parses `args` against the command's options; throws UsageError (unknown option, missing
 *  value, value given to a switch, wrong number of arguments). With --help or --version the
 *  argument count is not checked: those answer whatever else is there. */
export function parseCommandLine(spec: CommandSpec, args: string[]): ParsedCommandLine {
  const options = { ...spec.options, ...STANDARD_OPTIONS };
  const config = Object.fromEntries(Object.entries(options).map(([name, o]) => [name, { type: o.value ? ('string' as const) : ('boolean' as const), ...(o.short ? { short: o.short } : {}) }]));
  const { tokens } = parseArgs({ args, options: config, strict: false, allowPositionals: true, tokens: true });
  const parsed: ParsedCommandLine = { help: false, version: false, values: {}, positionals: [] };
  const problems: string[] = [];
  for (const t of tokens) {
    if (t.kind === 'positional') parsed.positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const o = Object.hasOwn(options, t.name) ? options[t.name] : undefined;
    if (!o) problems.push(`unknown option ${t.rawName}`);
    else if (o.value) {
      // A value that looks like the next option means this one's value was left out.
      if (t.value === undefined || t.value === '' || (!t.inlineValue && t.value.startsWith('-'))) problems.push(`${t.rawName} needs a value (${o.value})`);
      else parsed.values[t.name] = t.value;
    } else if (t.value !== undefined) problems.push(`${t.rawName} takes no value`);
    else if (t.name === 'help') parsed.help = true;
    else if (t.name === 'version') parsed.version = true;
    else parsed.values[t.name] = 'true';
  }
  if (parsed.help || parsed.version) return parsed;
  if (problems.length) throw new UsageError(problems[0]!);
  const { min, max } = spec.positionals ?? { min: 0, max: 0 };
  if (parsed.positionals.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[max])}`);
  if (parsed.positionals.length < min) throw new UsageError(`missing argument${spec.args ? `: ${spec.args}` : ''}`);
  return parsed;
}

/** The `--help` text. */
export function helpText(spec: CommandSpec): string {
  const options = { ...spec.options, ...STANDARD_OPTIONS };
  const lines = [`usage: ${spec.name}${spec.commands ? ' <command>' : ''}${spec.args ? ` ${spec.args}` : ''} [options]`, '', spec.summary];
  if (spec.commands) {
    lines.push('', 'commands:');
    const width = Math.max(...spec.commands.map(([n]) => n.length));
    for (const [n, s] of spec.commands) lines.push(`  ${n.padEnd(width)}  ${s}`);
  }
  const left = Object.entries(options).map(([name, o]) => [`${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`, o] as const);
  const width = Math.max(...left.map(([l]) => l.length));
  lines.push('', 'options:');
  for (const [l, o] of left) {
    const extra = [o.env, o.default !== undefined && `default ${o.default}`].filter(Boolean).join('; ');
    lines.push(`  ${l.padEnd(width)}  ${o.help}${extra ? ` (${extra})` : ''}`);
  }
  for (const n of spec.notes ?? []) lines.push('', n);
  return `${lines.join('\n')}\n`;
}

/** This project's version, from its package.json. */
export function projectVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}

/** A setting from an option or, failing that, the environment; it knows its own name for
 *  messages (`--blueprint`, or `FAAS_BLUEPRINT_ID` when it came from there). */
export class Settings {
  constructor(
    private readonly spec: CommandSpec,
    private readonly values: Record<string, string>,
    private readonly env: Record<string, string | undefined> = process.env,
  ) {}

  private option(name: string): OptionSpec {
    const o = this.spec.options[name];
    if (!o) throw new Error(`${this.spec.name} has no option --${name}`); // a bug here, not the user's
    return o;
  }

  /** The setting's text and where it came from, or undefined when unset (an empty
   *  environment variable counts as unset). */
  get(name: string): { text: string; source: string } | undefined {
    const o = this.option(name);
    if (this.values[name] !== undefined) return { text: this.values[name], source: `--${name}` };
    const fromEnv = o.env ? this.env[o.env] : undefined;
    if (o.env && fromEnv) return { text: fromEnv, source: o.env };
    return undefined;
  }

  text(name: string): string | undefined {
    return this.get(name)?.text;
  }

  /** The setting, or a UsageError naming the option and its environment variable. */
  required(name: string, what: string): { text: string; source: string } {
    const s = this.get(name);
    if (!s) {
      const o = this.option(name);
      throw new UsageError(`--${name}${o.env ? ` (or ${o.env})` : ''} is needed: ${what}`);
    }
    return s;
  }

  /** Reads the setting with `read`; what `read` throws becomes a UsageError naming the source. */
  parse<T>(name: string, read: (text: string) => T): T | undefined {
    const s = this.get(name);
    return s === undefined ? undefined : checked(s, read);
  }

  /** The same for a required setting. */
  parseRequired<T>(name: string, what: string, read: (text: string) => T): T {
    return checked(this.required(name, what), read);
  }
}

function checked<T>(s: { text: string; source: string }, read: (text: string) => T): T {
  try {
    return read(s.text);
  } catch (err) {
    throw new UsageError(`${s.source}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

// Readers for `Settings.parse`: each throws an Error saying what it expected.

export function wholeNumber(text: string): bigint {
  if (!/^\d+$/.test(text.trim())) throw new Error(`expected a whole number, got ${JSON.stringify(text)}`);
  return BigInt(text.trim());
}

export function smallWholeNumber(text: string): number {
  const n = wholeNumber(text);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${text} is too large`);
  return Number(n);
}

export function port(text: string): number {
  const n = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!(n >= 0 && n <= 65535)) throw new Error(`expected a port number from 0 to 65535, got ${JSON.stringify(text)}`);
  return n;
}

export function wholeNumbers(text: string): bigint[] {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.every((p) => /^\d+$/.test(p))) throw new Error(`expected whole numbers separated by commas (e.g. 1,2), got ${JSON.stringify(text)}`);
  return parts.map((p) => BigInt(p));
}

export function oneOf<T extends string>(...choices: T[]): (text: string) => T {
  return (text) => {
    if (!(choices as string[]).includes(text)) throw new Error(`expected ${choices.join(' or ')}, got ${JSON.stringify(text)}`);
    return text as T;
  };
}

/** A URL with one of these schemes (`ws:`, `https:` …). */
export function urlWith(...protocols: string[]): (text: string) => string {
  return (text) => {
    let url: URL | undefined;
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
    if (!url || !protocols.includes(url.protocol)) throw new Error(`expected a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got ${JSON.stringify(text)}`);
    return text;
  };
}

export function evmAddress(text: string): `0x${string}` {
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) throw new Error(`expected a 0x-prefixed 20-byte address, got ${JSON.stringify(text)}`);
  return text as `0x${string}`;
}
