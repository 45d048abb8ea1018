"""Branches made ahead: one spare context per snapshot of a javascript / typescript context (and
language and disk size), made in the background after each restore or branch of it, so the next
one only takes it. Making a branch costs a fork of the held node, whose page tables cover its
whole heap (tens of ms per 100 MB, more under load), besides the namespaces; taken from here it
costs a dictionary look-up. A spare is a branch like any other, made the same way (its own
namespaces, its own copy-on-write fork of the held node): nothing is shared between the context
that takes it and any other, and nothing runs in it before it is taken but what the snapshot
left pending (its timers, as in any branch between two runs)."""

import threading

from . import gvisor
from .common import log
from .node_holder import NODE_LANGUAGES

# How long a request waits for a spare still being made before it makes a branch itself.
TAKE_WAIT_S = 30


class Spare:
    def __init__(self):
        self.done = threading.Event()
        self.ctx = None  # the spare's Peer once made
        self.has_memory = False
        self.dropped = False  # its snapshot was dropped while it was being made


class BranchSpares:
    def __init__(self):
        self.lock = threading.Lock()
        self.spares = {}  # (snapshot id, language, disk MiB) -> Spare

    @staticmethod
    def wanted(language):
        return language in NODE_LANGUAGES and not gvisor.ACTIVE  # gvisor hook: a fresh node per context there

    def take(self, key):
        """The spare for `key` (waiting for it while it is being made): (Peer, hasMemory), or None."""
        with self.lock:
            spare = self.spares.pop(key, None)
        if spare is None or not spare.done.wait(TAKE_WAIT_S) or spare.ctx is None:
            if spare is not None:
                self.discard(spare)  # still being made: killed when it is
            return None
        return spare.ctx, spare.has_memory

    def refill(self, key, make):
        """Starts making the spare for `key` (make() -> (Peer, hasMemory)) unless one is there."""
        with self.lock:
            if key in self.spares:
                return
            spare = self.spares[key] = Spare()
        threading.Thread(target=self._make, args=(key, spare, make), daemon=True).start()

    def _make(self, key, spare, make):
        try:
            spare.ctx, spare.has_memory = make()
        except Exception as e:  # the next request makes its branch itself, and says why if it fails too
            log("a spare branch of %s could not be made: %s" % (key[0], e))
            with self.lock:
                if self.spares.get(key) is spare:
                    del self.spares[key]
        finally:
            with self.lock:  # with discard(): one of the two kills a spare dropped while being made
                dropped = spare.dropped
                spare.done.set()
        if dropped and spare.ctx is not None:
            spare.ctx.kill()

    def discard(self, spare):
        with self.lock:
            spare.dropped = True
            made = spare.done.is_set()
        if made and spare.ctx is not None:
            spare.ctx.kill()

    def drop_snapshot(self, sid):
        """Its spares end (or end once made): nothing of a dropped snapshot stays."""
        with self.lock:
            gone = [s for k, s in self.spares.items() if k[0] == sid]
            self.spares = {k: s for k, s in self.spares.items() if k[0] != sid}
        for spare in gone:
            self.discard(spare)
