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

void populate_hot_pages(void) {
  for (int i = 0; i < n_hot; i++) madvise((void *)(uintptr_t)hot[i].start, (size_t)hot[i].length, (int)hot[i].advice);
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
      int advice = advice_for(perms, path_at > 0 ? line + path_at : "");
      if (advice) out->m[out->n++] = (struct mapping){.lo = lo, .hi = hi, .advice = advice};
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

// In the rehearsal, at its end: the pages it touched, to the zygote.
void report_pages_touched(int out) {
  static struct mappings mine;  // (static: 24 KiB)
  read_mappings(&mine);
  // Our own pagemap is root's while we are not dumpable: dumpable only to open it.
  prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
  int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (pagemap < 0) return;
  struct page_scan scan = {.pagemap = pagemap, .out = out};
  for (int i = 0; i < mine.n; i++) scan_mapping(&scan, &mine.m[i]);
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
  for (size_t i = 0; i < n && n_hot < MAX_HOT_RANGES; i++) {
    struct hot_range r = recs[i];
    if (r.length == 0 || r.start % PAGE || r.length % PAGE || r.start + r.length < r.start) continue;
    if ((uint64_t)pages + r.length / PAGE > MAX_HOT_PAGES) continue;
    int inside = 0;
    for (int j = 0; j < mine.n && !inside; j++) {
      inside = r.advice == (uint64_t)mine.m[j].advice && r.start >= mine.m[j].lo && r.start + r.length <= mine.m[j].hi;
    }
    if (!inside) continue;
    hot[n_hot++] = r;
    pages += (long)(r.length / PAGE);
  }
  return pages;
}

void hot_pages_init(void) {
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0) PAGE = (uint64_t)page;
}
