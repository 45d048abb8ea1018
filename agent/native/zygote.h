// The zygote's loop (zygote.c), shared by the python zygote (_native.c) and the node one
// (agent/node-fork/fork.c).
#ifndef FAAS_ZYGOTE_H
#define FAAS_ZYGOTE_H

#include <stddef.h>

#define N_PIPES 6
#define FIRST_FREE_FD 6  // a spare's fds 0-5 are its pipes

// In a new spare, right after its fork: makes `ends` (its pipe ends, by target fd 0-5) its fds
// 0-5, closes what it must not keep (at least `sock` and the zygote's `ep`, with its pidfds),
// and does what the runtime needs after a fork. Ends the process (70) if it cannot.
typedef void (*spare_setup)(int *ends, int sock, int ep);

// The loop. For each 'S' read from the agent's socket it makes a spare's six pipes, forks, and
// sends the agent {"type":"spare","pid":N} with its pipe ends (SCM_RIGHTS); when a spare's
// pidfd says it ended, it reaps every ended child and sends
// {"type":"exit","pid":N,"status":S,"cpu":SECONDS,"maxrss":KIB} (S: the raw wait status).
// Returns 0 only in a new spare (after `setup`); in the zygote, -1 with errno set: at once on
// an error it cannot wait out, after 10 s of failed forks on one it can (out of processes,
// memory or fds). The agent gone (end of file) ends the zygote (_exit(0)). Needs pidfds.
int zygote_serve(int sock, spare_setup setup);

// Before the zygote serves: forks a rehearsal spare (set up by `setup`, with fds 0-2 and 5 on
// /dev/null) that gets `program` on its control pipe and, at its end, reports the pages it
// touched on its status pipe (report_pages_touched, hot_pages.c); keeps them, so that each
// spare after maps them up front (populate_hot_pages). Returns 1 in the rehearsal spare, 0 in
// the zygote with the pages kept in *learned (0 when anything failed: spares still work).
int zygote_rehearse(const char *program, size_t len, spare_setup setup, long *learned);

// A new spare's fds as `ends` say, in a new session, everything else closed (closefrom).
void arrange_spare_fds(int *ends);

// snprintf's length as what is in the buffer (without its NUL), whatever it says.
size_t clamp(int len, size_t size);

#endif
