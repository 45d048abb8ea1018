'use strict';
// A javascript / typescript context's heap, kept by a snapshot (see node_holder.py): on
// {"op":"hold"} this node stops running anything of the user's and blocks on its control
// socket (fd 4); each {"op":"fork"} there (with the fds of the namespaces the agent made, the
// new context's request and reply pipes and its own control socket) forks a copy of the whole
// process into those namespaces, where it goes on as that context's node. The copy shares no
// memory with this one (fork: copy-on-write). {"op":"resume"}: the snapshot was not taken.
const fs = require('node:fs');
const path = require('node:path');

const REPLY_FD = 3;
const CONTROL_FD = 4;
const NS_FLAGS = { user: 0x10000000, mnt: 0x00020000, pid: 0x20000000, net: 0x40000000, ipc: 0x08000000, uts: 0x04000000 };
// Threads node starts even with V8's background work off (--single-threaded): idle, holding no
// lock, so a fork is safe. libuv's thread pool (fs.promises, crypto, zlib, dns.lookup) is safe
// too while its threads wait for work (in futex) and no request is in flight: libuv makes a
// new pool in a fork on its first use. Anything else running is refused.
const IDLE_THREADS = new Set(['DelayedTaskSche', 'V8Worker']);
const POOL_THREAD = 'libuv-worker';
const FUTEX = process.arch === 'arm64' ? '98' : '202';
// Active resources that are thread-pool work in flight: a copy would wait for them for ever.
const POOL_WORK = /^FSReq|AddrInfo|NameInfo|Job$|Zlib|Work$/;

let addon = null;
function native() {
  if (addon === null) addon = require(path.join(__dirname, 'node-fork', 'faas_fork.node'));
  return addon;
}

// What the heap must have collected before it is held (ctx-heap.cjs).
const heap = require('./ctx-heap.cjs');

function busyThreads() {
  const busy = [];
  for (const t of fs.readdirSync('/proc/self/task')) {
    if (Number(t) === native().getPid()) continue;
    const name = fs.readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
    if (IDLE_THREADS.has(name)) continue;
    let call = '';
    try {
      call = fs.readFileSync(`/proc/self/task/${t}/syscall`, 'utf8').split(' ')[0];
    } catch { /* unknown: counted as busy */ }
    if (name === POOL_THREAD && call === FUTEX) continue;
    busy.push(name);
  }
  for (const r of process.getActiveResourcesInfo()) if (POOL_WORK.test(r)) busy.push(r);
  return busy;
}

function closeAll(fds) {
  for (const fd of fds) {
    try { fs.closeSync(fd); } catch { /* closed */ }
  }
}

function reply(obj, fd = REPLY_FD) {
  try { fs.writeSync(fd, `${JSON.stringify(obj)}\n`); } catch { /* the asker is gone */ }
}

/** This process, forked by a snapshot: its pid now (node's process.pid is its origin's). */
function pid() {
  return native().getPid();
}

/**
 * Blocks while this process holds a snapshot's heap. Returns 'forked' in a copy (a new
 * context's node, its fds 0, 3 and 4 now that context's), 'resumed' when the snapshot was not
 * taken, 'refused' when it cannot be forked safely. Never returns in the holder otherwise:
 * it ends when every end of its control socket is closed (the snapshot was dropped).
 */
function hold() {
  const a = native();
  let busy;
  try {
    heap.prepareHold();
    busy = busyThreads();
  } catch (e) {
    busy = [`unknown (${e && e.message})`];
  }
  if (busy.length) {
    reply({ ok: false, message: `the context has work running on other threads (${[...new Set(busy)].join(', ')}); a snapshot needs it finished: await it (async fs, crypto, zlib and dns work runs on a thread pool), or use the sync forms` });
    return 'refused';
  }
  reply({ ok: true, held: true });
  a.setDumpable(0);
  for (;;) {
    let got;
    try {
      // Woken now and then to collect the copies that ended (they are this process's children).
      while ((got = a.recvMsg(CONTROL_FD, 1000)) === null) a.reapChildren();
    } catch {
      a.exitNow(70); // a heap that can no longer be asked for copies is of no use: its askers see it end
    }
    const { data, fds } = got;
    if (data === null) a.exitNow(0);
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      closeAll(fds);
      continue;
    }
    if (msg.op === 'resume') {
      closeAll(fds);
      a.setDumpable(1);
      reply({ ok: true, resumed: true });
      return 'resumed';
    }
    if (msg.op !== 'fork') {
      closeAll(fds);
      continue;
    }
    const kinds = Array.isArray(msg.kinds) ? msg.kinds : [];
    if (fds.length !== kinds.length + 3 || !kinds.every((k) => k in NS_FLAGS)) {
      if (fds.length >= 2) reply({ error: 'fork: bad request' }, fds[fds.length - 2]);
      closeAll(fds);
      continue;
    }
    const ns = fds.slice(0, kinds.length);
    const [requests, replies, control] = fds.slice(kinds.length);
    let child;
    try {
      child = a.forkInto(ns, kinds.map((k) => NS_FLAGS[k]), [requests, 0, replies, REPLY_FD, control, CONTROL_FD], replies);
    } catch (e) {
      reply({ error: String(e && e.message) }, replies);
      closeAll(fds);
      continue;
    }
    if (child === 0) {
      heap.noteCopy();
      // A copy: node's own teardown would wait for the helper threads only its origin has.
      process.on('exit', (code) => a.exitNow(typeof code === 'number' ? code : 0));
      a.setDumpable(1); // as a context's node started by exec is (only the held heap is not)
      return 'forked';
    }
    closeAll(fds);
  }
}

module.exports = Object.freeze({ hold, pid });
