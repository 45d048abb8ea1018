'use strict';
// How much of a javascript / typescript context's heap is collected before a snapshot holds it
// (see ctx-hold.cjs), and when it is collected ahead of time.
//
// A held heap must have no garbage-collection work left that its copies (each restore and
// branch) would finish on their own, each then writing to most of the heap's pages and owning a
// private copy of them. Context nodes run without incremental marking and without the memory
// reducer (node_holder.NODE_FLAGS), so no marking cycle is in progress between programs; what
// is left is the young generation, sweeping after a full collection, and garbage. A full
// collection costs 100-400 ms for a 100 MB heap on this VM (more in a copy, whose collection
// copies the pages it writes), most of a snapshot's time, so it is made only when the old
// generation grew a lot since the last one or V8 collected (or marked) in full since; otherwise
// a young-generation collection (a few ms to ~100 ms) is enough, or nothing when nothing changed
// (measured with forked copies: 1-3 MiB private each either way). A node that is not itself a
// copy (the context as its first program left it) also collects in full while it idles after a
// program that grew the heap that much, so a snapshot soon after finds it done; a copy does not
// (it would copy its whole inherited heap for a snapshot that may never come).
//
// Whatever this module decides, it only costs or saves time and memory: the isolation of the
// copies is the fork's (and their namespaces'). A program can change any of it in its own
// context only (require.cache, v8.setFlagsFromString); the functions are taken at load so that
// an ordinary program that replaces globals does not break its own snapshots by accident.
const v8 = require('node:v8');
const { PerformanceObserver, constants, performance } = require('node:perf_hooks');
const { getHeapStatistics, getHeapSpaceStatistics, setFlagsFromString } = v8;
const { runInNewContext } = require('node:vm');
const now = performance.now.bind(performance);

// Growth of the old generation since the last full collection that calls for another: a
// quarter, and 16 MiB at least (less is left to V8's own schedule).
const MIN_GROWTH = 16 << 20;
// Timers or callbacks a program left behind run outside any program: heap use that moved by
// more than this since the last collection counts as a change too.
const SLACK = 1 << 20;

let ranSinceCollect = true; // a fresh node counts as changed: its start-up garbage
let cleanOld = 0; // bytes of old generation in use right after our last full collection
let lastUsed = 0; // bytes in use right after our last collection of either kind
let fullSinceCollect = false; // V8 collected or marked in full since (its sweeping may be unfinished)
let ownUntil = -1; // performance.now() at the end of our last collection: entries up to it are ours
let isCopy = false; // this node is a fork of a held one

// A GC entry comes a loop turn or more after its collection (takeRecords() drains those not
// delivered yet); what started before our own collection ended is ours or older. Without the
// observer (it could not start) every snapshot collects in full, as before.
const FULL_KINDS = new Set([constants.NODE_PERFORMANCE_GC_MAJOR, constants.NODE_PERFORMANCE_GC_INCREMENTAL]);
let observer = null;
try {
  observer = new PerformanceObserver((list) => noteEntries(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
} catch {
  observer = null;
}
function noteEntries(entries) {
  for (const e of entries) if (e.startTime > ownUntil && e.detail && FULL_KINDS.has(e.detail.kind)) fullSinceCollect = true;
}
function takeEntries() {
  if (observer === null) fullSinceCollect = true;
  else noteEntries(observer.takeRecords());
}

let gc = null;
function collector() {
  if (gc === null) {
    // `gc` from a context of our own: the user's global scope does not get it.
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc');
  }
  return gc;
}

function used() {
  return getHeapStatistics().used_heap_size;
}

/** Bytes in use outside the young generation (which a young collection empties anyway). */
function oldUsed() {
  let young = 0;
  for (const s of getHeapSpaceStatistics()) if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') young += s.space_used_size;
  return used() - young;
}

function grownMuch() {
  const grown = oldUsed() - cleanOld;
  return grown >= MIN_GROWTH && grown >= cleanOld / 4;
}

/** A full collection. */
function collect() {
  collector()();
  ownUntil = now();
  cleanOld = oldUsed();
  lastUsed = used();
  ranSinceCollect = false;
  fullSinceCollect = false;
}

/** Before a program runs. */
function noteRun() {
  ranSinceCollect = true;
}

/** In a copy, once forked from a held node. */
function noteCopy() {
  isCopy = true;
}

/** Before a snapshot holds the heap: collects what it must. Returns 'full', 'young' or 'none'. */
function prepareHold() {
  setFlagsFromString('--no-incremental-marking'); // (a program may have turned it on: the entries below tell)
  takeEntries();
  if (fullSinceCollect || grownMuch()) {
    collect();
    return 'full';
  }
  if (!ranSinceCollect && Math.abs(used() - lastUsed) <= SLACK) return 'none';
  const before = oldUsed();
  collector()({ type: 'minor' });
  if (oldUsed() < before) {
    // The old generation shrank: V8 made it a full collection (its old generation was full),
    // whose sweeping the copies would finish. Finished here instead.
    collect();
    return 'full';
  }
  lastUsed = used();
  ranSinceCollect = false;
  return 'young';
}

/** Whether to collect in full while the context idles after a program: it grew the heap a lot,
 *  and this node is no copy. (Not after V8's own full collections: that would double them.) */
function worthIdleCollect() {
  return !isCopy && grownMuch();
}

module.exports = Object.freeze({ collect, noteRun, noteCopy, prepareHold, worthIdleCollect });
