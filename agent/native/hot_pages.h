// The pages a python spare touches (hot_pages.c), for the agent's native module (_native.c).
#ifndef FAAS_HOT_PAGES_H
#define FAAS_HOT_PAGES_H

#include <stddef.h>
#include <stdint.h>

#define MAX_HOT_RANGES 4096

// One run of pages, as the rehearsal writes it to the zygote.
struct hot_range {
  uint64_t start, length, advice;  // bytes; MADV_POPULATE_WRITE, MADV_POPULATE_READ, TOUCH_READ or READ_EXACT (hot_pages.c)
};

// At the module's start: the page size.
void hot_pages_init(void);
// In a python rehearsal spare, at its hand-over: starts learning the pages it reads (TOUCH_READ,
// READ_EXACT: hot_pages.c).
void trace_reads_begin(void);
// In the rehearsal spare, at its end: the runs of pages it touched, written to `out`.
void report_pages_touched(int out);
// In the zygote: keeps the reported runs that lie in its own mappings of the same kind;
// returns the pages kept.
long keep_hot_pages(const struct hot_range *recs, size_t n);
// In the zygote: of the pages kept, those of writable memory the rehearsal only read.
long hot_pages_read_only(void);
// In a new spare, right after its fork: maps the kept pages (and reads those it will use).
void populate_hot_pages(void);

#endif
