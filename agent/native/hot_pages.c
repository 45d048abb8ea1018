// The pages a python spare touches: learned by the zygote's rehearsal spare from its own
// /proc/self/pagemap, kept by the zygote, mapped up front by each later spare. See _native.c.
#define _GNU_SOURCE
#include "hot_pages.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

// The pages a python spare touches, learned once by a rehearsal (rehearse): each new spare maps
// them right after its fork in one madvise per run of pages, instead of one fault each as it
// goes (measured in the python image: a fault 14-23 µs, a page populated ~1-5 µs). Two kinds:
// pages it writes (its own copies: MADV_POPULATE_WRITE) and pages of read-only files it reads,
// the interpreter's code above all (fork does not copy their page-table entries, so a child
// faults them in again: MADV_POPULATE_READ).
// A third kind, learned in python rehearsals only (trace_reads_begin): pages of private writable
// memory the rehearsal read but did not write. A fork copies their page-table entries, so no
// fault shows, yet on this VM (shadow paging) a process's first access to each page still costs
// the hypervisor ~3-6 µs; each new spare reads them once before its program comes (TOUCH_READ),
// as it reads the pages it populated, so that cost is off the request's path. Only the pages a
// rehearsal used: touching every page a spare inherits doubled a spare's CPU (probe, 8.2 →
// 16.7 ms), touching these moves what the program would have paid anyway.
#define TOUCH_READ 0x7401
// And files' pages known to be read (traced, not merely present): populated, then read too.
#define READ_EXACT 0x7402
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define MAX_HOT_PAGES 8192  // 32 MiB of 4 KiB pages: far above what a spare touches (~170 written, ~800 read)
static uint64_t PAGE = 4096;  // (sysconf's: hot_pages_init)
#define MAX_MAPPINGS 1024

static struct hot_range hot[MAX_HOT_RANGES];
static int n_hot;
static long n_touch_read;  // of the pages kept, TOUCH_READ's

void populate_hot_pages(void) {
  // The pages this process will write and read are also used once now: populating maps them in
  // the page table, but the first access from user space is what the hypervisor charges (above).
  // Read only where the madvise succeeded: the zygote may have given memory back since it
  // learned the ranges (a freed arena, a mapping it does not pass on), and a read of an unmapped
  // page would end every spare. TOUCH_READ's pages are mapped already: populating them (for
  // reading) only checks that they still are. Files' pages are read only when the rehearsal
  // traced what it read (READ_EXACT): learned as present instead (POPULATE_READ), they include
  // the kernel's fault-around neighbours (~1,000 pages against ~150 read), and reading them all
  // cost a spare ~1.5 ms more.
  for (int i = 0; i < n_hot; i++) {
    int advice = hot[i].advice == TOUCH_READ || hot[i].advice == READ_EXACT ? MADV_POPULATE_READ : (int)hot[i].advice;
    int mapped = madvise((void *)(uintptr_t)hot[i].start, (size_t)hot[i].length, advice) == 0;
    if (!mapped || hot[i].advice == MADV_POPULATE_READ) continue;
    for (uint64_t a = hot[i].start; a < hot[i].start + hot[i].length; a += PAGE) (void)*(volatile const char *)(uintptr_t)a;
  }
}

// Which advice populates a mapping with these permissions and this path, or 0 for none:
// private writable memory is written, read-only files are read; the rest is left alone.
static int advice_for(const char *perms, const char *path) {
  if (perms[0] == 'r' && perms[1] == 'w' && perms[3] == 'p') return MADV_POPULATE_WRITE;
  if (perms[0] == 'r' && perms[1] == '-' && path[0] == '/') return MADV_POPULATE_READ;
  return 0;
}

struct mapping {
  uint64_t lo, hi;
  int advice;
  int special;  // [stack] and the like: not traced (trace_reads_begin)
};

struct mappings {
  struct mapping m[MAX_MAPPINGS];
  int n;
};

// The mappings of this process worth populating (advice_for), from /proc/self/maps.
static void read_mappings(struct mappings *out) {
  out->n = 0;
  FILE *maps = fopen("/proc/self/maps", "re");
  if (!maps) return;
  char line[4096];
  while (out->n < MAX_MAPPINGS && fgets(line, sizeof line, maps)) {
    unsigned long lo, hi;
    char perms[8];
    int path_at = 0;
    if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path_at) >= 3 && strlen(perms) == 4) {
      const char *path = path_at > 0 ? line + path_at : "";
      int advice = advice_for(perms, path);
      int stack = path[0] == '[' && strncmp(path, "[heap]", 6) != 0;  // [stack] and the kernel's
      if (advice) out->m[out->n++] = (struct mapping){.lo = lo, .hi = hi, .advice = advice, .special = stack};
    }
    if (!strchr(line, '\n')) {  // (a longer line: skip its rest)
      int c;
      while ((c = fgetc(maps)) != EOF && c != '\n') {
      }
    }
  }
  fclose(maps);
}

struct page_scan {
  int pagemap, out, ranges;
  uint64_t start, end, advice;  // the run being built
};

static void flush_run(struct page_scan *scan) {
  if (scan->end > scan->start && scan->ranges < MAX_HOT_RANGES) {
    struct hot_range rec = {.start = scan->start, .length = scan->end - scan->start, .advice = scan->advice};
    if (write(scan->out, &rec, sizeof rec) == (ssize_t)sizeof rec) scan->ranges++;
  }
  scan->start = scan->end = 0;
}

// The pages of a mapping this process touched, as runs written to scan->out: for writable
// memory its own copies (present and exclusively mapped: pagemap bits 63 and 56), for files
// the pages in its page table (present).
static void scan_mapping(struct page_scan *scan, const struct mapping *m) {
  uint64_t entries[512];
  scan->advice = (uint64_t)m->advice;
  for (uint64_t a = m->lo; a < m->hi;) {
    size_t n = (size_t)((m->hi - a) / PAGE);
    if (n > 512) n = 512;
    ssize_t got = pread(scan->pagemap, entries, n * 8, (off_t)(a / PAGE * 8));
    if (got < 8) break;
    for (size_t i = 0; i < (size_t)got / 8; i++, a += PAGE) {
      int touched = (entries[i] >> 63) & 1;
      if (m->advice == MADV_POPULATE_WRITE) touched = touched && ((entries[i] >> 56) & 1);
      if (touched) {
        if (scan->end != a) {
          flush_run(scan);
          scan->start = a;
        }
        scan->end = a + PAGE;
      }
    }
  }
  flush_run(scan);
}

// Read tracing, in a python rehearsal from its hand-over to its end: which pages of writable
// memory it only read (TOUCH_READ), and exactly which pages of files (READ_EXACT). The kernel
// tells which pages a process accessed only per mapping (smaps' Referenced), so each mapping is
// cut into one-page mappings (every other page marked MADV_DONTDUMP, which changes nothing but
// core dumps: neighbours then cannot merge) and the accessed bits cleared (clear_refs); at the
// end each one-page mapping's Referenced says whether it was used.
static struct mappings *traced;  // (mapped, not static: the rehearsal's own writes to it would
                                 // otherwise be learned as pages every spare writes)
static int tracing;
static int trace_pagemap = -1, trace_smaps = -1;
static int files_traced;  // files' mappings are in the trace (within their budget)
#define MAX_TRACED_PAGES 16384  // of each kind, one mapping each: under vm.max_map_count (65530)

static void mark_odd_pages(int advice) {
  for (int i = 0; i < traced->n; i++) {
    for (uint64_t a = traced->m[i].lo; a < traced->m[i].hi; a += PAGE) {
      if ((a / PAGE) & 1) madvise((void *)(uintptr_t)a, (size_t)PAGE, advice);
    }
  }
}

void trace_reads_begin(void) {
  void *room = mmap(NULL, sizeof *traced, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (room == MAP_FAILED) return;
  traced = room;
  read_mappings(traced);
  // Each kind within its own budget: files over theirs (a large library) are left out, and
  // their pages learned as present, as before; writable memory over its, nothing is traced.
  uint64_t pages[2] = {0, 0};  // writable memory's, files'
  for (int i = 0; i < traced->n; i++) {
    if (!traced->m[i].special) pages[traced->m[i].advice == MADV_POPULATE_READ] += (traced->m[i].hi - traced->m[i].lo) / PAGE;
  }
  files_traced = pages[1] <= MAX_TRACED_PAGES;
  int n = 0;
  for (int i = 0; i < traced->n; i++) {
    if (traced->m[i].special || (uint64_t)traced->m[i].lo == (uint64_t)(uintptr_t)room) continue;
    if (traced->m[i].advice == MADV_POPULATE_READ && !files_traced) continue;
    traced->m[n++] = traced->m[i];
  }
  traced->n = n;
  // Our own /proc files are root's while we are not dumpable: dumpable once, to open all three.
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  int clear = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
  trace_pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  trace_smaps = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (pages[0] <= MAX_TRACED_PAGES && clear >= 0 && trace_pagemap >= 0 && trace_smaps >= 0) {
    // (One-page mappings also keep a read fault from mapping the page's neighbours, which it
    // does within a mapping: what is present after is what was read, or was before.)
    mark_odd_pages(MADV_DONTDUMP);
    tracing = write(clear, "1", 1) == 1;
    if (!tracing) mark_odd_pages(MADV_DODUMP);
  }
  if (clear >= 0) close(clear);
}

// The kind of the traced mapping holding [lo, hi), or 0.
static int traced_kind(uint64_t lo, uint64_t hi) {
  for (int i = 0; i < traced->n; i++) {
    if (lo >= traced->m[i].lo && hi <= traced->m[i].hi) return traced->m[i].advice;
  }
  return 0;
}

// One smaps line: a mapping's header ("lo-hi perms ...") starts a mapping; its Referenced line
// says whether it was accessed. An accessed page of a file is a run of READ_EXACT; one
// of writable memory that is not our own copy (those are written: MADV_POPULATE_WRITE), of
// TOUCH_READ.
static void smaps_line(struct page_scan *scan, const char *line, uint64_t *lo, uint64_t *hi) {
  unsigned long a, b;
  unsigned long kb;
  const char *space = strchr(line, ' '), *dash = strchr(line, '-');
  if (space && dash && dash < space && sscanf(line, "%lx-%lx ", &a, &b) == 2) {
    *lo = a;
    *hi = b;
  } else if (sscanf(line, "Referenced: %lu kB", &kb) == 1 && kb > 0 && *hi > *lo) {
    int kind = traced_kind(*lo, *hi);
    if (!kind) return;
    uint64_t advice = kind == MADV_POPULATE_READ ? READ_EXACT : TOUCH_READ;
    if (advice != scan->advice) {
      flush_run(scan);
      scan->advice = advice;
    }
    for (uint64_t p = *lo; p < *hi; p += PAGE) {
      uint64_t entry = 0;
      if (pread(scan->pagemap, &entry, 8, (off_t)(p / PAGE * 8)) != 8) return;
      if (!((entry >> 63) & 1)) continue;  // (absent)
      if (kind == MADV_POPULATE_WRITE && ((entry >> 56) & 1)) continue;  // (our own copy)
      if (scan->end != p) {
        flush_run(scan);
        scan->start = p;
      }
      scan->end = p + PAGE;
    }
  }
}

// The traced pages that were read, as TOUCH_READ and READ_EXACT runs (smaps_line); returns
// whether smaps was read to its end.
static int scan_reads(struct page_scan *scan, int smaps) {
  enum { SIZE = 1 << 16 };
  char *buf = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);  // (as traced)
  if (buf == MAP_FAILED) return 0;
  ssize_t got = 0;
  size_t have = 0;
  uint64_t lo = 0, hi = 0;
  scan->advice = TOUCH_READ;
  for (;;) {
    got = read(smaps, buf + have, SIZE - 1 - have);
    if (got <= 0) break;
    have += (size_t)got;
    buf[have] = 0;
    char *line = buf, *nl;
    while ((nl = strchr(line, '\n'))) {
      *nl = 0;
      smaps_line(scan, line, &lo, &hi);
      line = nl + 1;
    }
    have = (size_t)(buf + have - line);
    memmove(buf, line, have);
    if (have == SIZE - 1) have = 0;  // (a line longer than the buffer: dropped)
  }
  flush_run(scan);
  munmap(buf, SIZE);
  return got == 0;  // (to the end, not an error)
}

// In the rehearsal, at its end: the pages it touched, to the zygote.
void report_pages_touched(int out) {
  int pagemap = trace_pagemap;
  if (pagemap < 0) {
    // Our own pagemap is root's while we are not dumpable: dumpable only to open it.
    prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  }
  struct page_scan scan = {.pagemap = pagemap, .out = out};
  int files_read = 0;  // (the files' pages read are known exactly: not taken from pagemap below)
  if (tracing) {  // (first: nothing here has allocated yet)
    files_read = pagemap >= 0 && scan_reads(&scan, trace_smaps) && files_traced;
    mark_odd_pages(MADV_DODUMP);  // (joined again: read_mappings below reads at most MAX_MAPPINGS)
    tracing = 0;
  }
  if (trace_smaps >= 0) close(trace_smaps);
  if (traced) munmap(traced, sizeof *traced);
  if (pagemap < 0) return;
  struct mappings *mine = mmap(NULL, sizeof *mine, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);  // (as traced)
  if (mine != MAP_FAILED) {
    read_mappings(mine);
    for (int i = 0; i < mine->n; i++) {
      if (!(files_read && mine->m[i].advice == MADV_POPULATE_READ)) scan_mapping(&scan, &mine->m[i]);
    }
  }
  close(pagemap);
}

// In the zygote: keeps the runs the rehearsal reported that lie in one of our own mappings of
// the same kind (whatever else the pipe carried is dropped), up to MAX_HOT_PAGES; returns the
// pages kept.
long keep_hot_pages(const struct hot_range *recs, size_t n) {
  static struct mappings mine;
  read_mappings(&mine);
  long pages = 0;
  n_hot = 0;
  n_touch_read = 0;
  for (size_t i = 0; i < n && n_hot < MAX_HOT_RANGES; i++) {
    struct hot_range r = recs[i];
    if (r.length == 0 || r.start % PAGE || r.length % PAGE || r.start + r.length < r.start) continue;
    if ((uint64_t)pages + r.length / PAGE > MAX_HOT_PAGES) continue;
    uint64_t kind = r.advice == TOUCH_READ ? MADV_POPULATE_WRITE : r.advice == READ_EXACT ? MADV_POPULATE_READ : r.advice;
    if (kind != MADV_POPULATE_WRITE && kind != MADV_POPULATE_READ) continue;  // (the mapping each kind lies in)
    int inside = 0;
    for (int j = 0; j < mine.n && !inside; j++) {
      inside = kind == (uint64_t)mine.m[j].advice && r.start >= mine.m[j].lo && r.start + r.length <= mine.m[j].hi;
    }
    if (!inside) continue;
    hot[n_hot++] = r;
    pages += (long)(r.length / PAGE);
    if (r.advice == TOUCH_READ) n_touch_read += (long)(r.length / PAGE);
  }
  return pages;
}

void hot_pages_init(void) {
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) PAGE = (uint64_t)page;
}

long hot_pages_read_only(void) { return n_touch_read; }
