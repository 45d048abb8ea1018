// The operator CLI, `faas-operator <command>` (bin/faas-operator.js; from a clone also
// `npm run operator -- <command>`): register, run, status, keys. What each command accepts is
// declared in cli-spec.ts, which gives its --help; what it does is in cli-commands.ts, loaded
// only once the command line is known to be right, so --help, --version and a wrong option
// answer at once (without loading the chain and Docker clients).
// Exit codes: 0 done, 1 failed, 2 wrong command line or setting (one line, no stack).
// The account comes from FAAS_SURI (or FAAS_EVM_PRIVATE_KEY with --chain evm), from the
// environment only — a flag would show in `ps` — and is never printed.
import { Settings, UsageError, helpText, parseCommandLine, projectVersion } from './cli-args.js';
import type { CommandSpec } from './cli-args.js';
import { COMMANDS, KEY_COMMANDS, OVERVIEW, PROGRAM } from './cli-spec.js';

const out = (s: string) => process.stdout.write(`${s}\n`);

const NO_COMMAND = 'a command is needed: register, run, status or keys';

const HELP: CommandSpec = { name: `${PROGRAM} help`, summary: 'The help of a command.', args: '[COMMAND [SUBCOMMAND]]', positionals: { min: 0, max: 2 }, options: {} };

/** The command the words at the front name (`register`, `keys create`, `help`), its spec and
 *  the rest of the command line. Without a command (`faas-operator --help`, `keys --help`)
 *  only --help and --version answer; otherwise `missing` is the error. */
function resolve(argv: string[]): { spec: CommandSpec; rest: string[]; command?: string; missing?: string } {
  const [first, second] = argv;
  if (first === undefined) throw new UsageError(NO_COMMAND);
  if (first.startsWith('-')) return { spec: OVERVIEW, rest: argv, missing: NO_COMMAND };
  if (first === 'help') return { spec: HELP, rest: argv.slice(1), command: 'help' };
  if (first === 'keys') {
    if (second !== undefined && Object.hasOwn(KEY_COMMANDS, second)) return { spec: KEY_COMMANDS[second]!, rest: argv.slice(2), command: `keys ${second}` };
    const missing = `keys: expected create, list, revoke or credit, got ${second ?? 'nothing'}`;
    if (second === undefined || !second.startsWith('-')) throw new UsageError(missing);
    return { spec: COMMANDS.keys!, rest: argv.slice(1), missing };
  }
  if (!Object.hasOwn(COMMANDS, first)) throw new UsageError(`unknown command ${first}`);
  return { spec: COMMANDS[first]!, rest: argv.slice(1), command: first };
}

/** `help [COMMAND [SUBCOMMAND]]`. */
function helpFor(words: string[]): string {
  const [command, sub] = words;
  if (command === undefined) return helpText(OVERVIEW);
  if (command === 'keys' && sub !== undefined && Object.hasOwn(KEY_COMMANDS, sub)) return helpText(KEY_COMMANDS[sub]!);
  if (Object.hasOwn(COMMANDS, command)) return helpText(COMMANDS[command]!);
  throw new UsageError(`unknown command ${command}`);
}

/** Resolves once the command is done (or, for `run`, serving) with the exit code to end
 *  with; null: keep running. */
async function main(argv: string[]): Promise<number | null> {
  let spec: CommandSpec = OVERVIEW;
  try {
    const r = resolve(argv);
    spec = r.spec;
    const parsed = parseCommandLine(spec, r.rest);
    if (parsed.help) {
      out(helpText(spec).trimEnd());
      return 0;
    }
    if (parsed.version) {
      out(projectVersion());
      return 0;
    }
    if (!r.command) throw new UsageError(r.missing ?? NO_COMMAND);
    if (r.command === 'help') {
      out(helpFor(parsed.positionals).trimEnd());
      return 0;
    }
    const { ACTIONS } = await import('./cli-commands.js');
    await ACTIONS[r.command]!({ args: parsed.positionals, settings: new Settings(spec, parsed.values) });
    return r.command === 'run' ? null : 0;
  } catch (err) {
    // A bad FAAS_* variable caught by the config's schema (a ValidationError) is a usage error too.
    const usage = err instanceof UsageError || (err as { code?: unknown } | null)?.code === 'VALIDATION_ERROR';
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${spec.name}: ${message.split('\n')[0]}${usage ? ` (see ${spec.name} --help)` : ''}\n`);
    if (!usage && err instanceof Error && ['debug', 'trace'].includes(process.env.FAAS_LOG_LEVEL ?? '')) process.stderr.write(`${err.stack}\n`);
    return usage ? 2 : 1;
  }
}

void main(process.argv.slice(2)).then((code) => {
  if (code !== null) process.exit(code);
});
