'use strict';
// A spare is not dumpable while it waits: its pipes (stdin, stdout, the control pipe that will
// carry the next program and its environment, the status pipe the agent trusts for the exit
// code) must not be open to the program running now under the same uid through /proc/<pid>/fd,
// nor its memory through /proc/<pid>/mem. The agent execs it from an execute-only copy of node,
// which the kernel starts not dumpable; where the runtime cannot run that copy (gVisor) it gets
// the plain binary, dumpable until this line (~50-130 ms): so it makes itself not dumpable first.
const spareAddon = ['--spare', '--zygote'].includes(process.argv[3]) ? require('/opt/faas/node-fork/faas_fork.node') : null;
if (spareAddon) spareAddon.setDumpable(0);
// A spare node process of the in-sandbox agent (see agent.py).
// `runner.cjs LANGUAGE --spare CTRL_FD STAT_FD` boots ahead of time, writes its CPU time so far to STAT_FD (a JSON line: it is ready, and
// the boot is not billed to the user), then blocks on CTRL_FD until the agent hands it a
// program: {source, code, cwd, env}. It runs the program as `node main.js` would, and as it
// exits writes {exit, cpu, maxrss} to STAT_FD too.
// `runner.cjs LANGUAGE --zygote SOCK_FD` boots the same way, once, and then forks spares as the
// python zygote does (the same loop in C, faas_fork's zygoteLoop, on the agent's socket): each a
// fork of a booted node with fds 0-5 its pipes, a few ms of CPU instead of a boot (100-250 ms).
// `runner.cjs LANGUAGE --direct SOURCE` runs SOURCE at once.
const fs = require('fs');
const path = require('path');
const Module = require('module');
const vm = require('vm');

const language = process.argv[2] || 'javascript';
const direct = process.argv[3] === '--direct';
// A spare forked by a node zygote (not booted on its own): it must leave with _exit (below).
let forked = false;
// The zygote's rehearsal spare: its end reports the pages it touched, not an exit.
let rehearsing = false;
const PUBLIC_NODE = (() => { try { return fs.realpathSync('/usr/bin/node'); } catch { return process.execPath; } })();

// typescript: node's own type stripping, in transform mode so enums, namespaces and parameter
// properties work too; types are not checked (as with a transpiler), no compiler is loaded.
function stripTypes(code, source) {
  // The API's one-time ExperimentalWarning is ours, not the program's: it is not printed.
  const emit = process.emitWarning;
  process.emitWarning = (w, ...rest) => {
    if (!String((w && w.message) || w).includes('stripTypeScriptTypes')) emit.call(process, w, ...rest);
  };
  try {
    return Module.stripTypeScriptTypes(code, { mode: 'transform', sourceUrl: path.basename(source) });
  } finally {
    process.emitWarning = emit;
  }
}

// The type stripper is WebAssembly compiled lazily, function by function, on first use: a
// warm-up that goes through most of the syntax compiles most of it before the clock starts
// (measured: the first program after a one-line warm-up took 1.7-2.9 ms to strip, after this
// one 0.3-0.9 ms).
const TS_WARM_UP = `import type { A } from './a';
export interface I<T> { a: T; b?: string[] }
type U = { [k: string]: number } | null;
enum E { A = 1, B }
namespace N { export const x = 1; }
class C<T> extends Object implements I<T> { private q = 1; constructor(public a: T, readonly r: number) { super(); } get g(): number { return 1; } static s() {} }
function f<T extends object>(x: T, ...rest: any[]): x is T { return !!x as boolean; }
const arrow = async (a: number = 1): Promise<void> => { await null; };
let v = <any>1; let w = 2 as unknown as string; let n = v!;
for (const [k, val] of Object.entries({})) { console.log(\`\${k} \${val}\`, k?.length ?? 0); }
try { throw new Error('x'); } catch (e: unknown) { } finally { }
const o = { v, ...{}, [1 + 2]: 3, m() {} }; declare const d: number; abstract class Q { abstract m(): void }
`;

function isEsm(code) {
  return /^\s*(import\s+[\w{*'"]|export\s)/m.test(code) || /\bimport\.meta\b/.test(code);
}

function setEnv(env) {
  // Spares start with the agent's base environment: apply only what differs.
  for (const k of Object.keys(process.env)) if (!(k in env)) delete process.env[k];
  for (const [k, v] of Object.entries(env)) if (process.env[k] !== v) process.env[k] = v;
}

/** The program failed to compile (it never ran): say so to the agent through the marker file. */
function markCompileError(marker) {
  if (!marker) return;
  try { fs.writeFileSync(marker, ''); } catch { /* best effort */ }
}

function run(source, code, cwd, env, marker) {
  if (cwd) process.chdir(cwd);
  if (env) setEnv(env);
  let file = source;
  const esm = isEsm(code);
  if (language === 'typescript') {
    try {
      code = stripTypes(code, source);
    } catch (e) {
      process.stderr.write(`${path.basename(source)}: ${e && e.code ? `${e.code}: ` : ''}${e && e.message}\n`);
      markCompileError(marker);
      process.exitCode = 1;
      return;
    }
    file = source.replace(/\.ts$/, '.js');
  }
  process.argv = [direct ? process.argv[0] : PUBLIC_NODE, file];
  if (esm) {
    // ES modules load from a file: write it in the private code directory the agent named.
    file = file.replace(/\.js$/, '.mjs');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, code);
    // `import { progress } from 'faas'`: ES modules ignore NODE_PATH, so the helper is linked
    // in beside the program (its code directory is private to this execution).
    try { fs.symlinkSync(path.join(__dirname, 'node'), path.join(path.dirname(file), 'node_modules')); } catch { /* there already */ }
    process.argv[1] = file;
    import(file).catch((e) => { process.nextTick(() => { throw e; }); });
    return;
  }
  // CommonJS from memory, as the main module: what `node main.js` in cwd would do, without
  // the file round trip. Packages resolve from the working directory's node_modules.
  const m = new Module('.', null);
  m.filename = file;
  m.paths = Module._nodeModulePaths(process.cwd());
  process.mainModule = m;
  Module._cache[file] = m;
  try {
    m._compile(code, file);
  } catch (e) {
    // A SyntaxError thrown here is the program's own parse failure only if the source does not
    // compile on its own (JSON.parse at top level throws SyntaxError too, after running).
    if (e instanceof SyntaxError) {
      try { new vm.Script(Module.wrap(code), { filename: file }); } catch (p) { if (p instanceof SyntaxError) markCompileError(marker); }
    }
    throw e;
  }
  m.loaded = true;
}

/** Runs console.log/error once through their whole path (the write itself switched off), and
 * the streams' own write path down to the pipe with nothing to write (measured: the first
 * console.log of a program then costs ~1 ms less). Creates process.stdout and stderr. */
function warmStreams() {
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write;
    stream.write = () => true;
    (stream === process.stdout ? console.log : console.error)('%s %d %j', 'warm', 1, { up: true });
    stream.write = write;
    stream.write('');
  }
}

/** What every program's start and end go through once, compiled before the clock starts (a
 * module's first compile loads the compiler paths; typescript: the type stripper). */
function warmUp() {
  process.env.FAAS_WARM_UP = '1';
  delete process.env.FAAS_WARM_UP;
  Module._nodeModulePaths(process.cwd());
  isEsm(TS_WARM_UP); // its regular expressions compile on first use
  process.resourceUsage();
  // `performance` is made on first use (node loads perf_hooks then): measured in a forked spare,
  // a program's first performance.now() cost ~8 ms.
  globalThis.performance.now();
  JSON.parse(JSON.stringify({ source: 'main.js', code: '', cwd: '/', env: { A: 'b' } }));
  if (language === 'typescript') stripTypes(TS_WARM_UP, 'warm-up.ts');
  const warm = new Module('warm-up', null);
  warm._compile('module.exports = 0', path.join(__dirname, 'warm-up.js'));
}

/** Booted: says so with the CPU used so far (not billed to the program; the agent waits for its
 * first spares' word before it tells the host it is ready), then blocks on the control pipe so
 * the program starts the moment it arrives. */
function awaitProgram(ctrl, stat) {
  const u = process.cpuUsage();
  if (!rehearsing) {
    try { fs.writeSync(stat, JSON.stringify({ baseline: (u.user + u.system) / 1e6 }) + '\n'); } catch { /* agent gone */ }
  }
  const chunks = [];
  const buf = Buffer.alloc(65536);
  for (;;) {
    const n = fs.readSync(ctrl, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
    if (buf[n - 1] === 0x0a) break; // the program is one JSON line: no read to wait for the end
  }
  fs.closeSync(ctrl);
  // The program is ours now: an ordinary process again, dumpable, so the agent's sweep finds
  // what it leaves (as python and bash spares do once their program arrives).
  if (!rehearsing) spareAddon.setDumpable(1);
  // This spare may run from the execute-only copy: a program sees (and child_process.fork()
  // starts) the node that `node main.js` would be, the binary /usr/bin/node leads to.
  process.execPath = PUBLIC_NODE;
  start(JSON.parse(Buffer.concat(chunks).toString('utf8')), stat);
}

/** In a forked spare, before its program: a program's whole path once, its output dropped. The
 * first run in a fork costs more than the next (measured on a host, CPU of a one-line program:
 * javascript 2.0 → 1.2 ms, typescript 3.5 → 1.9; a typescript strip alone 5.2-5.4 → 0.4 ms):
 * that is paid here, before the clock starts. */
function warmRun() {
  const { write } = process.stdout;
  const { argv, mainModule } = process;
  process.stdout.write = () => true;
  const source = path.join(__dirname, `warm-run.${language === 'typescript' ? 'ts' : 'js'}`);
  try {
    run(source, REHEARSAL.code, null, null, null);
  } catch { /* (it does not throw) */ }
  process.stdout.write = write;
  process.argv = argv;
  process.mainModule = mainModule;
  delete Module._cache[source.replace(/\.ts$/, '.js')];
}

/** What the zygote's rehearsal spare runs: a program as the agent hands one over. */
const REHEARSAL = {
  source: `/tmp/.faas/rehearsal/main.${language === 'typescript' ? 'ts' : 'js'}`,
  code: language === 'typescript' ? 'const n: number = 1;\nconsole.log(n);\n' : 'console.log(1);\n',
  cwd: process.cwd(),
  env: { ...process.env },
};

/** A non-zero 32-bit seed from the kernel (no library state a fork shares). */
function freshSeed() {
  const fd = fs.openSync('/dev/urandom', 'r');
  const b = Buffer.alloc(4);
  try { fs.readSync(fd, b, 0, 4, null); } finally { fs.closeSync(fd); }
  return b.readInt32LE() || 1;
}

if (direct) {
  run(process.argv[4], fs.readFileSync(process.argv[4], 'utf8'), null, null, process.argv[5]);
} else if (process.argv[3] === '--zygote') {
  // Its fds 0-5 must all be open (node_spares.exec_zygote): node's own lie above the six a
  // spare's pipes take over. The zygote never touches process.stdout or stderr: each spare
  // makes its own once forked, from modules loaded here. Node finishes its own start-up after
  // the main module: by the first setImmediate it is done, and each spare copies a booted node.
  for (let fd = 0; fd < 6; fd++) fs.fstatSync(fd); // (throws, and the agent starts spares itself)
  warmUp();
  require('net');
  require('tty');
  require('util').format('%s %d %j', 'warm', 1, { up: true });
  // A full collection before the first fork: garbage not yet collected would otherwise be
  // collected by every spare, each writing (so copying) most of the heap's pages (measured on
  // a host: a spare's CPU before its program 53-61 → 20-36 ms). `gc` from a context of our own.
  require('v8').setFlagsFromString('--expose-gc');
  vm.runInNewContext('gc')();
  setImmediate(() => {
    try {
      // The pages a spare touches from its fork to its end, learned from one that runs a
      // program like the agent's (no user code runs yet), then mapped up front by each spare
      // after: one madvise per run of pages, not a page fault each (hot_pages.c).
      rehearsing = spareAddon.rehearse(Buffer.from(JSON.stringify(REHEARSAL) + '\n')) === null;
      if (!rehearsing) spareAddon.zygoteLoop(Number(process.argv[4])); // returns only in a new spare
    } catch (e) {
      try { fs.writeSync(2, `[agent] node zygote: ${e && e.message}; ending (the agent starts spares itself)\n`); } catch { /* */ }
      spareAddon.exitNow(70);
    }
    // A new spare (or the rehearsal). What node keeps per process is the zygote's until set here: its pid, and
    // Math.random's seed (every fork would draw the same numbers; the zygote never drew one,
    // so the first draw here seeds from this flag).
    forked = true;
    // process.exit() from inside an 'exit' listener goes straight to node's teardown, which
    // crashes in a fork: here it is an _exit with its code (the agent then reads it from wait4).
    process.reallyExit = (code) => spareAddon.exitNow(Number(code) | 0);
    Object.defineProperty(process, 'pid', { value: spareAddon.getPid(), writable: false, enumerable: true, configurable: true });
    require('v8').setFlagsFromString(`--random-seed=${freshSeed()}`);
    warmStreams();
    warmRun();
    awaitProgram(3, 4);
  });
} else {
  warmStreams();
  warmUp();
  setImmediate(() => awaitProgram(Number(process.argv[4]), Number(process.argv[5])));
}

function start(req, stat) {
  // Node prints an uncaught exception only after 'exit' handlers ran: then report nothing
  // (and keep stderr open for the trace); the agent learns the end from wait4 instead.
  let uncaught = false;
  process.on('uncaughtExceptionMonitor', () => { uncaught = true; });
  process.on('exit', function onExit(code) {
    if (rehearsing) {
      spareAddon.reportPagesTouched(stat);
      spareAddon.exitNow(0);
    }
    if (uncaught) {
      // Node prints the exception after this and then tears itself down, which in a fork ends
      // in SIGSEGV (its platform's threads exist only in the zygote): that ends it with `code`.
      if (forked) spareAddon.exitOnCrash(code);
      return;
    }
    if (forked) {
      // It leaves with _exit below (node's own teardown would crash, as above): the program's
      // own 'exit' listeners, which node would call after this one, run now (those it put
      // before this one have run already).
      const listeners = process.listeners('exit');
      for (const listener of listeners.slice(listeners.indexOf(onExit) + 1)) {
        try { listener.call(process, code); } catch { /* as node would not stop for it either */ }
      }
      if (process.exitCode !== undefined) code = Number(process.exitCode) | 0; // (theirs may set it, as in node)
    }
    const r = process.resourceUsage();
    try {
      fs.closeSync(1);
      fs.closeSync(2);
    } catch { /* already closed */ }
    const report = { exit: code, cpu: (r.userCPUTime + r.systemCPUTime) / 1e6, maxrss: r.maxRSS };
    try { fs.writeSync(stat, JSON.stringify(report) + '\n'); } catch { /* agent gone */ }
    if (forked) spareAddon.exitNow(code);
  });
  run(req.source, req.code, req.cwd, req.env, req.compileMarker);
}
