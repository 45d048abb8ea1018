// faas_agent._native: the hot path of a spare's life in C, for the zygote and python spares
// (agent/faas_agent/spares.py, python_spares.py). Python spares need it (the agent refuses to
// start a python sandbox without it); the zygote's loop has a Python twin for where pidfds are
// missing (gVisor).
//
// The pages a spare maps up front after its fork are hot_pages.c's.
//
// Why C: after a fork, every page a process writes is a copy-on-write fault, and on this kind
// of VM a fault costs 10-30 µs (a trap out of the guest; the same pages populated in one
// madvise cost ~1 µs each). Python writes a page for nearly every object it touches (reference
// counts). Measured in the python image, faults per spare: the zygote's Python loop wrote 25-90
// of its pages between one fork and the next (this loop: ~2); a spare's Python path from its
// fork to its program took ~320 (setsid and the dup2s ~27, reading the program ~35, a ctypes
// prctl to become dumpable ~90, its report ~17).
//
// zygote_loop(sock): the zygote's loop (zygote.c, shared with the node zygote). It returns 0
// only in a new spare, whose fds 0-5 are then its stdin, stdout, stderr, control, status and
// progress pipes and nothing else is open; in the zygote it returns only by raising OSError
// (the zygote then dies and the agent forks spares itself). Needs pidfds (not under gVisor:
// there the Python loop runs).
//
// take_program(fd): in a spare, reads its control pipe to the end, closes it, and makes the
// process dumpable (it was not while it waited: its pipes were not for other code); returns
// the bytes. The CPU used so far is noted: set-up before the hand-over is not billed.
//
// finish(stat_fd, status): a python spare's end once its program ran and its streams were
// flushed: its report {"exit":S,"cpu":SECONDS,"maxrss":KIB} (CPU since the hand-over,
// children included) on the status pipe after closing stdout and stderr (so the agent has all
// output when the report wakes it) and lowering its priority (the agent goes first), then
// _exit(status). Never returns.
#define PY_SSIZE_T_CLEAN
#define Py_LIMITED_API 0x030B0000
#include <Python.h>

#include "hot_pages.h"
#include "zygote.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int rehearsing;  // in the rehearsal: finish reports the pages touched, not an exit

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static double cpu_at_hand_over;  // in a spare: its CPU when its program arrived (take_program)

// A new python spare, right after its fork (zygote_serve): the pages it will touch mapped, what
// os.fork does in the child, its fds 0-5 its pipes and nothing else open (the zygote's socket,
// epoll fd and pidfds closed with the rest).
static void python_spare_setup(int *ends, int sock, int ep) {
  (void)sock;
  (void)ep;
  populate_hot_pages();
  PyOS_AfterFork_Child();  // (the GIL, locks, at-fork hooks)
  arrange_spare_fds(ends);
}

// rehearse(program): in the zygote, before it serves: a rehearsal spare runs `program` (the
// control pipe's bytes for a python spare) with its output discarded and, at its end (finish),
// reports the pages it touched instead of an exit; the zygote keeps them for every spare after
// (zygote_rehearse, hot_pages.c). Returns None in that rehearsal spare (its fds 0-5 in place:
// the caller makes it a python spare), in the zygote (pages learned, of which pages of writable
// memory only read). No user code runs yet when it does.
static PyObject *rehearse(PyObject *self, PyObject *args) {
  (void)self;
  const char *program;
  Py_ssize_t len;
  if (!PyArg_ParseTuple(args, "y#", &program, &len)) return NULL;
  long learned = 0;
  if (zygote_rehearse(program, (size_t)len, python_spare_setup, &learned)) {
    rehearsing = 1;
    Py_RETURN_NONE;
  }
  return Py_BuildValue("(ll)", learned, hot_pages_read_only());
}

static PyObject *zygote_loop(PyObject *self, PyObject *args) {
  (void)self;
  int sock;
  if (!PyArg_ParseTuple(args, "i", &sock)) return NULL;
  if (zygote_serve(sock, python_spare_setup) == 0) return PyLong_FromLong(0);
  return PyErr_SetFromErrno(PyExc_OSError);
}

static PyObject *take_program(PyObject *self, PyObject *args) {
  (void)self;
  int fd;
  if (!PyArg_ParseTuple(args, "i", &fd)) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = PyMem_Malloc(cap);
  if (!buf) return PyErr_NoMemory();
  for (;;) {
    if (len == cap) {
      char *bigger = PyMem_Realloc(buf, cap * 2);
      if (!bigger) {
        PyMem_Free(buf);
        return PyErr_NoMemory();
      }
      buf = bigger;
      cap *= 2;
    }
    ssize_t got = read(fd, buf + len, cap - len);
    if (got == 0) break;
    if (got < 0) {
      if (errno == EINTR) continue;
      PyMem_Free(buf);
      return PyErr_SetFromErrno(PyExc_OSError);
    }
    len += (size_t)got;
  }
  close(fd);
  if (len > 0 && !rehearsing) prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);  // (nothing came: the agent dropped us)
  if (len > 0 && rehearsing) trace_reads_begin();  // (learns what a program's run reads)
  struct rusage me;
  getrusage(RUSAGE_SELF, &me);
  cpu_at_hand_over = seconds(me.ru_utime) + seconds(me.ru_stime);
  PyObject *program = PyBytes_FromStringAndSize(buf, (Py_ssize_t)len);
  PyMem_Free(buf);
  return program;
}

static PyObject *finish(PyObject *self, PyObject *args) {
  (void)self;
  int stat_fd, status;
  if (!PyArg_ParseTuple(args, "ii", &stat_fd, &status)) return NULL;
  if (rehearsing) {
    report_pages_touched(stat_fd);
    _exit(0);
  }
  struct rusage me, kids;
  getrusage(RUSAGE_SELF, &me);
  getrusage(RUSAGE_CHILDREN, &kids);
  double cpu = seconds(me.ru_utime) + seconds(me.ru_stime) + seconds(kids.ru_utime) + seconds(kids.ru_stime) - cpu_at_hand_over;
  char report[128];
  int len = snprintf(report, sizeof report, "{\"exit\":%d,\"cpu\":%f,\"maxrss\":%ld}\n", status, cpu,
                     me.ru_maxrss > kids.ru_maxrss ? me.ru_maxrss : kids.ru_maxrss);
  close(1);
  close(2);
  if (nice(19) < 0) errno = 0;  // (lowering never fails; the result is not needed)
  while (write(stat_fd, report, clamp(len, sizeof report)) < 0 && errno == EINTR) {
  }
  _exit(status);
}

static PyMethodDef methods[] = {
    {"zygote_loop", zygote_loop, METH_VARARGS, "The zygote's loop; returns 0 only in a new spare."},
    {"rehearse", rehearse, METH_VARARGS, "In the zygote: learns the pages a python spare writes; returns None in the rehearsal spare."},
    {"take_program", take_program, METH_VARARGS, "A spare's program, read to the end of its control pipe; the spare is then dumpable."},
    {"finish", finish, METH_VARARGS, "A python spare's report and exit."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_native", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__native(void) {
  hot_pages_init();
  return PyModule_Create(&module);
}
