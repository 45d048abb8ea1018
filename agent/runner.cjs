'use strict';
// A spare is not dumpable while it waits: its pipes (stdin, stdout, the control pipe that will
// carry the next program and its environment, the status pipe the agent trusts for the exit
// code) must not be open to the program running now under the same uid through /proc/<pid>/fd,
// nor its memory through /proc/<pid>/mem. The agent execs it from an execute-only copy of node,
// which the kernel starts not dumpable; where the runtime cannot run that copy (gVisor) it gets
// the plain binary, dumpable until this line (~50-130 ms): so it makes itself not dumpable first.
const spareAddon = process.argv[3] === '--spare' ? require('/opt/faas/node-fork/faas_fork.node') : null;
if (spareAddon) spareAddon.setDumpable(0);
// A spare node process of the in-sandbox agent (see agent.py).
// `runner.cjs LANGUAGE --spare CTRL_FD STAT_FD` boots ahead of time, writes its CPU time so far to STAT_FD (a JSON line: it is ready, and
// the boot is not billed to the user), then blocks on CTRL_FD until the agent hands it a
// program: {source, code, cwd, env}. It runs the program as `node main.js` would, and as it
// exits writes {exit, cpu, maxrss} to STAT_FD too.
// `runner.cjs LANGUAGE --direct SOURCE` runs SOURCE at once.
const fs = require('fs');
const path = require('path');
const Module = require('module');
const vm = require('vm');

const language = process.argv[2] || 'javascript';
const direct = process.argv[3] === '--direct';
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

if (direct) {
  run(process.argv[4], fs.readFileSync(process.argv[4], 'utf8'), null, null, process.argv[5]);
} else {
  const ctrl = Number(process.argv[4]);
  const stat = Number(process.argv[5]);
  // Warm up before the clock starts: node creates the stdout/stderr streams, and loads what
  // they need, on first use; a module's first compile loads the compiler paths.
  void process.stdout;
  void process.stderr;
  for (const stream of [process.stdout, process.stderr]) {
    // Run console.log/error once through their whole path, the write itself switched off.
    const write = stream.write;
    stream.write = () => true;
    (stream === process.stdout ? console.log : console.error)('%s %d %j', 'warm', 1, { up: true });
    stream.write = write;
    // And the stream's own write path down to the pipe, with nothing to write (measured: the
    // first console.log of a program then costs ~1 ms less).
    stream.write('');
  }
  // What every program's start and end go through once: the environment, module paths, the
  // exit report's resource usage.
  process.env.FAAS_WARM_UP = '1';
  delete process.env.FAAS_WARM_UP;
  Module._nodeModulePaths(process.cwd());
  isEsm(TS_WARM_UP); // its regular expressions compile on first use
  process.resourceUsage();
  JSON.parse(JSON.stringify({ source: 'main.js', code: '', cwd: '/', env: { A: 'b' } }));
  if (language === 'typescript') stripTypes(TS_WARM_UP, 'warm-up.ts');
  const warm = new Module('warm-up', null);
  warm._compile('module.exports = 0', path.join(__dirname, 'warm-up.js'));
  // Node finishes its own start-up after the main module (about 3 ms on node 18); that must
  // happen now, not after the user's code. By the first setImmediate it is done: from there,
  // block on the control pipe so the program starts the moment it arrives.
  setImmediate(() => {
    // Booted: say so with the CPU used so far (not billed to the program; the agent waits
    // for its first spares' word before it tells the host it is ready).
    const u = process.cpuUsage();
    try { fs.writeSync(stat, JSON.stringify({ baseline: (u.user + u.system) / 1e6 }) + '\n'); } catch { /* agent gone */ }
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
    spareAddon.setDumpable(1);
    // This spare may run from the execute-only copy: a program sees (and child_process.fork()
    // starts) the node that `node main.js` would be, the binary /usr/bin/node leads to.
    process.execPath = PUBLIC_NODE;
    start(JSON.parse(Buffer.concat(chunks).toString('utf8')), stat);
  });
}

function start(req, stat) {
  // Node prints an uncaught exception only after 'exit' handlers ran: then report nothing
  // (and keep stderr open for the trace); the agent learns the end from wait4 instead.
  let uncaught = false;
  process.on('uncaughtExceptionMonitor', () => { uncaught = true; });
  process.on('exit', (code) => {
    if (uncaught) return;
    const r = process.resourceUsage();
    try {
      fs.closeSync(1);
      fs.closeSync(2);
    } catch { /* already closed */ }
    const report = { exit: code, cpu: (r.userCPUTime + r.systemCPUTime) / 1e6, maxrss: r.maxRSS };
    try { fs.writeSync(stat, JSON.stringify(report) + '\n'); } catch { /* agent gone */ }
  });
  run(req.source, req.code, req.cwd, req.env, req.compileMarker);
}
