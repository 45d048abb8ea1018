// faas_handover: a bash loadable builtin (`enable -f handover.so faas_handover`) for bash spares.
// A bash spare is started ahead of time from an execute-only copy of bash, so the kernel makes it
// not dumpable: while it waits, its pipes (the control pipe that will carry the next program, the
// status pipe) are not open to other code of the same uid through /proc/<pid>/fd, nor its memory
// through /proc/<pid>/mem. Once its program has arrived it calls this builtin and becomes an
// ordinary process again, dumpable, as a spare's program is elsewhere (so the agent's sweep finds
// what it leaves). `faas_handover check` instead succeeds only while the process is not dumpable:
// the spare checks that before it says it is ready (a runtime that ran the execute-only copy but
// left it dumpable gets no waiting spares). Built at image-build time (scripts/node-runtime.ts)
// with the host's gcc; it needs no header of bash: the builtin table's layout has been the same
// since bash 4.
#include <string.h>
#include <sys/prctl.h>

// The head of bash's WORD_LIST and WORD_DESC (unchanged since bash 2).
struct word_desc {
  char *word;
  int flags;
};

struct word_list {
  struct word_list *next;
  struct word_desc *word;
};

struct builtin {
  char *name;
  int (*function)(struct word_list *);
  int flags;
  char *const *long_doc;
  const char *short_doc;
  char *handle;
};

#define BUILTIN_ENABLED 0x01

static int faas_handover_builtin(struct word_list *args) {
  if (args && args->word && args->word->word && strcmp(args->word->word, "check") == 0) {
    return prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : 1;
  }
  return prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0 ? 0 : 1;
}

static char *const faas_handover_doc[] = {
  "Make this bash spare an ordinary (dumpable) process once its program has arrived;",
  "with `check`, succeed only if it is not dumpable.",
  (char *)0,
};

struct builtin faas_handover_struct = {
  "faas_handover", faas_handover_builtin, BUILTIN_ENABLED, faas_handover_doc, "faas_handover [check]", 0,
};
