'use strict';
// How much of a javascript / typescript context's heap is collected before a snapshot holds it
// (see ctx-hold.cjs), and when it is collected ahead of time.
//
// A held heap must have no garbage-collection work left that its copies (each restore and
// branch) would finish on their own, each then writing to most of the heap's pages and owning a
// private copy of them. Context nodes run without incremental marking and without the memory
// reducer (node_holder.NODE_FLAGS), so no marking cycle is ever in progress between programs;
// what is left is the young generation, swept after a full collection, and garbage. A full
// collection costs 100-400 ms for a 100 MB heap on this VM (more in a copy, whose collection
// copies the pages it writes), most of a snapshot's time, so it is made only when the heap grew
// a lot (then ahead of time too, while the context idles) or V8 collected it in full since our
// last one; otherwise a young-generation collection (a few ms) is enough (measured with forked
// copies: 1-3 MiB private each either way).

const v8 = require('node:v8');
const { PerformanceObserver, constants, performance } = require('node:perf_hooks');
// Taken now: a program can replace what the shared module objects hold (its own context only).
const { getHeapStatistics, setFlagsFromString } = v8;
const { runInNewContext } = require('node:vm');
const now = performance.now.bind(performance);

// Growth of the heap in use since the last full collection that calls for another: a quarter,
// and 16 MiB at least (less is left to V8's own schedule).
const MIN_GROWTH = 16 << 20;
// Timers or callbacks a program left behind run outside any program: heap use that moved by
// more than this counts as a change too.
const SLACK = 1 << 20;

let ranSinceCollect = true; // a fresh node counts as changed: its start-up garbage
let cleanUsed = 0; // bytes in use right after our last full collection
let majorSinceCollect = false; // V8 collected in full since (its sweeping may be unfinished)
let ownUntil = -1; // performance.now() at the end of our last collection: entries up to it are ours

// A GC entry comes a loop turn or more after its collection (takeRecords() drains those not
// delivered yet); what started before our own collection ended is ours or older.
const observer = new PerformanceObserver((list) => noteEntries(list.getEntries()));
observer.observe({ entryTypes: ['gc'] });
function noteEntries(entries) {
  for (const e of entries) {
    if (e.startTime > ownUntil && e.detail && e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majorSinceCollect = true;
  }
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

function grownMuch() {
  const grown = used() - cleanUsed;
  return grown >= MIN_GROWTH && grown >= cleanUsed / 4;
}

/** A full collection. */
function collect() {
  collector()();
  ownUntil = now();
  cleanUsed = used();
  ranSinceCollect = false;
  majorSinceCollect = false;
}

/** Before a program runs. */
function noteRun() {
  ranSinceCollect = true;
}

/** Before a snapshot holds the heap: collects what it must. Returns 'full', 'young' or 'none'. */
function prepareHold() {
  noteEntries(observer.takeRecords());
  if (majorSinceCollect || grownMuch()) {
    collect();
    return 'full';
  }
  if (ranSinceCollect || Math.abs(used() - cleanUsed) > SLACK) {
    collector()({ type: 'minor' });
    ranSinceCollect = false;
    return 'young';
  }
  return 'none';
}

/** Whether to collect in full while the context idles after a program: it grew the heap a lot.
 *  (Not after V8's own full collections: that would double them for programs that allocate.) */
function worthIdleCollect() {
  return grownMuch();
}

module.exports = { collect, noteRun, prepareHold, worthIdleCollect };
