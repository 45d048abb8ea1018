'use strict';
// The javascript interpreter of a stateful context (see family.py): one node process whose
// global scope outlives each program, so `globalThis.x = ...` (or a top-level `var`) set by one
// execute is there for the next. Requests arrive as JSON lines on stdin, replies leave on the
// fd given as the first argument.
// Each request names files for the run's stdin, stdout and stderr.
const fs = require('node:fs');
const vm = require('node:vm');
const readline = require('node:readline');
const { createRequire } = require('node:module');
const path = require('node:path');

// A script run by vm has no module scope: give it what a main.js in the work dir would have.
globalThis.require = createRequire(path.join(process.cwd(), 'main.js'));
globalThis.__filename = path.join(process.cwd(), 'main.js');
globalThis.__dirname = process.cwd();

const repFd = Number(process.argv[2]);
// typescript: node's own type stripping (enums and namespaces transformed too), no compiler.
const language = process.argv[3] || 'javascript';
const { stripTypeScriptTypes } = require('node:module');
// Loaded before any program runs (not from require.cache at the first snapshot, which a program can reach).
const heap = require('./ctx-heap.cjs');
const holder = require('./ctx-hold.cjs');
// From node:timers, not the global scope, where a program may have replaced them.
const { setTimeout, clearTimeout, setImmediate: onCheck } = require('node:timers');

class ExitSignal extends Error {
  constructor(code) {
    super('process.exit');
    this.exitCode = code;
  }
}

async function run(req) {
  const out = fs.openSync(req.stdout, 'a');
  const err = fs.openSync(req.stderr, 'a');
  const write = (fd) => (chunk, encoding, cb) => {
    fs.writeSync(fd, typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? encoding : 'utf8') : chunk);
    if (typeof encoding === 'function') encoding();
    else if (typeof cb === 'function') cb();
    return true;
  };
  const saved = { out: process.stdout.write, err: process.stderr.write, exit: process.exit, env: process.env };
  currentErr = err;
  process.stdout.write = write(out);
  process.stderr.write = write(err);
  process.exit = (code) => {
    throw new ExitSignal(code === undefined ? 0 : Number(code) & 0xff);
  };
  process.env = { ...req.env };
  globalThis.__faasStdin = () => fs.readFileSync(req.stdin, 'utf8');
  let exit = 0;
  let timedOut = false;
  let compileError = false;
  try {
    let script;
    try {
      const code = language === 'typescript' ? stripTypeScriptTypes(req.code, { mode: 'transform', sourceUrl: 'main.ts' }) : req.code;
      script = new vm.Script(code, { filename: language === 'typescript' ? 'main.ts' : 'main.js' });
    } catch (e) {
      compileError = true;
      throw e;
    }
    const value = script.runInThisContext({ timeout: req.timeoutMs, breakOnSigint: true });
    if (value && typeof value.then === 'function') await value;
  } catch (e) {
    if (e instanceof ExitSignal) exit = e.exitCode;
    else {
      if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') timedOut = true;
      fs.writeSync(err, `${e && e.stack ? e.stack : String(e)}\n`);
      exit = timedOut ? 137 : 1;
    }
  } finally {
    process.stdout.write = saved.out;
    process.stderr.write = saved.err;
    process.exit = saved.exit;
    process.env = saved.env;
    currentErr = null;
    fs.closeSync(out);
    fs.closeSync(err);
  }
  return { exit, timedOut, compileError };
}

// An error thrown after a program's run returned (a timer, a rejected promise nobody awaited)
// must not end the context: it goes to the stderr of the run in progress, if any.
let currentErr = null;
const late = (e) => {
  if (currentErr !== null) fs.writeSync(currentErr, `${e && e.stack ? e.stack : String(e)}\n`);
};
process.on('uncaughtException', late);
process.on('unhandledRejection', late);

const rl = readline.createInterface({ input: process.stdin });
const queue = [];
let busy = false;
// After a program that grew the heap a lot, a full collection while the context idles, so a
// snapshot soon after need not make it (ctx-heap.cjs). A request that comes first cancels it.
const IDLE_COLLECT_MS = 200;
let idleCollect = null;
function cancelIdleCollect() {
  if (idleCollect !== null) clearTimeout(idleCollect);
  idleCollect = null;
}
function collectWhenIdle() {
  cancelIdleCollect();
  try {
    if (queue.length > 0 || !heap.worthIdleCollect()) return;
  } catch {
    return; // (what it reads was replaced by a program: the snapshot collects instead)
  }
  idleCollect = setTimeout(() => {
    idleCollect = null;
    try {
      if (!busy && queue.length === 0) heap.collect();
    } catch { /* as above */ }
  }, IDLE_COLLECT_MS);
}
async function next() {
  if (busy || queue.length === 0) return;
  busy = true;
  const req = queue.shift();
  // ---- jsmem hook: a snapshot keeps this heap (ctx-hold.cjs) ----
  if (req.op === 'hold') {
    // One turn of the loop's check phase first: the entries of collections made earlier in this
    // turn (a timer's) arrive there, and ctx-heap decides by them.
    await new Promise((resolve) => onCheck(resolve));
    const cwd = process.cwd(); // a fork enters another mount namespace, at its root
    if (holder.hold() === 'forked') {
      process.chdir(cwd);
      fs.writeSync(repFd, `${JSON.stringify({ type: 'node-ready', pid: holder.pid() })}\n`);
    }
    busy = false;
    void next();
    return;
  }
  // ---- end jsmem hook ----
  let reply;
  try {
    heap.noteRun();
    reply = await run(req);
  } catch (e) {
    reply = { exit: 1, error: String(e) };
  }
  fs.writeSync(repFd, `${JSON.stringify(reply)}\n`);
  busy = false;
  collectWhenIdle();
  void next();
}
rl.on('line', (line) => {
  cancelIdleCollect();
  queue.push(JSON.parse(line));
  void next();
});
rl.on('close', () => process.exit(0));
