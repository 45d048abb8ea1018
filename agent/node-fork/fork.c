// faas_fork: what a stateful javascript / typescript context's node needs to keep its heap in
// a snapshot (see node_holder.py and ctx-hold.cjs): fork() the process, the child entering
// namespaces the agent made (their fds passed over a unix socket) with no capabilities, and
// its libuv loop re-created; receive fds over that socket; wait for a child; leave at once.
// And the node zygote of cached javascript / typescript spares (runner.cjs --zygote): the
// python zygote's loop (agent/native/zygote.c), each spare a fork of a node that has booted.
// Built at image-build time (scripts/build-images.ts) against the headers of the node in the
// image. Node must run with V8's background work off (--single-threaded): the helper threads
// node still starts are idle then, and the child of fork() has only the calling thread.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>
#include <signal.h>
#include <node_api.h>
#include <uv.h>

#include "hot_pages.h"
#include "zygote.h"

#define MAX_FDS 16

static napi_value throw_errno(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int int_array(napi_env env, napi_value arr, int *out, int max) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok || n > (uint32_t)max) return -1;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) != napi_ok || napi_get_value_int32(env, v, &out[i]) != napi_ok) return -1;
  }
  return (int)n;
}

// A failure in the child, before it is a node again: a JSON line on `fd` (the requester's reply pipe).
static void child_fail(int fd, const char *what) {
  char msg[300];
  int n = snprintf(msg, sizeof msg, "{\"error\":\"%s: %s\"}\n", what, strerror(errno));
  if (fd >= 0 && n > 0) (void)!write(fd, msg, (size_t)n);
  _exit(70);
}

// No capabilities in any set: bounding (needs CAP_SETPCAP, which joining a user namespace gave), ambient, then the rest.
static int drop_capabilities(void) {
  for (int cap = 0; cap <= 63; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  return (int)syscall(SYS_capset, &hdr, data);
}

// V8 marks its heap's pages MADV_DONTFORK: left so, a child would find them unmapped. Every
// mapping is made inheritable again (kernel mappings such as [vvar] refuse, which is fine).
static void inherit_all_mappings(void) {
  FILE *maps = fopen("/proc/self/maps", "re");
  if (!maps) return;
  char line[512];
  unsigned long start, end;
  while (fgets(line, sizeof line, maps)) {
    if (sscanf(line, "%lx-%lx", &start, &end) == 2) madvise((void *)start, end - start, MADV_DOFORK);
  }
  fclose(maps);
}

// forkInto(nsFds, nsTypes, moves, errFd): a copy of this process in the namespaces given. A
// vfork()ed helper (it shares this process's memory while this one waits, so it costs no copy)
// joins them in the order given (the user namespace first: it gives the capabilities the rest
// need; a PID namespace only sets where its children go), then fork()s the copy, which starts
// inside all of them, and exits. In the copy: every capability dropped, fds moved (moves:
// [from, to] pairs; fd 0, a libuv stream, made non-blocking), the libuv loop re-created.
// Returns the copy's pid here and 0 in the copy.
static napi_value ForkInto(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int ns_fds[MAX_FDS], ns_types[MAX_FDS], moves[MAX_FDS * 2], err_fd = -1;
  int n_ns = argc > 0 ? int_array(env, argv[0], ns_fds, MAX_FDS) : 0;
  int n_types = argc > 1 ? int_array(env, argv[1], ns_types, MAX_FDS) : 0;
  int n_moves = argc > 2 ? int_array(env, argv[2], moves, MAX_FDS * 2) : 0;
  if (argc > 3) napi_get_value_int32(env, argv[3], &err_fd);
  if (n_ns < 0 || n_types != n_ns || n_moves < 0 || n_moves % 2) {
    napi_throw_type_error(env, NULL, "forkInto(nsFds, nsTypes, moves, errFd): bad arguments");
    return NULL;
  }
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == NULL) {
    napi_throw_error(env, NULL, "no event loop");
    return NULL;
  }
  inherit_all_mappings();
  // Written by the helper into this process's memory (shared until it exits).
  volatile int helper_errno = 0;
  volatile const char *helper_step = NULL;
  volatile pid_t copy = 0;
  pid_t helper = vfork();
  if (helper < 0) return throw_errno(env, "vfork");
  if (helper == 0) {
    for (int i = 0; i < n_ns; i++) {
      if (setns(ns_fds[i], ns_types[i]) != 0) {
        helper_errno = errno;
        helper_step = "setns";
        _exit(70);
      }
    }
    pid_t p = fork();
    if (p != 0) {
      if (p < 0) {
        helper_errno = errno;
        helper_step = "fork";
      }
      copy = p;
      _exit(p < 0 ? 70 : 0);
    }
    // Here: the copy, with memory of its own.
  } else {
    int status;
    while (waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
    if (helper_step != NULL) {
      errno = helper_errno;
      return throw_errno(env, (const char *)helper_step);
    }
    napi_value result;
    napi_create_int32(env, copy, &result);
    return result;
  }
  for (int i = 0; i < n_ns; i++) close(ns_fds[i]);
  if (n_ns > 0 && drop_capabilities() != 0) child_fail(err_fd, "capset");
  for (int i = 0; i < n_moves; i += 2) {
    if (moves[i] != moves[i + 1] && dup2(moves[i], moves[i + 1]) < 0) child_fail(err_fd, "dup2");
  }
  for (int i = 0; i < n_moves; i += 2) {
    int src = moves[i], kept = 0;
    for (int j = 1; j < n_moves; j += 2) kept |= moves[j] == src;
    if (!kept) close(src);
    int to = moves[i + 1];
    fcntl(to, F_SETFD, 0);
    // stdin is a libuv stream (non-blocking); the reply pipe and the control socket are used blocking.
    int flags = fcntl(to, F_GETFL);
    fcntl(to, F_SETFL, to == 0 ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
  }
  if (uv_loop_fork(loop) != 0) child_fail(-1, "uv_loop_fork");
  napi_value zero;
  napi_create_int32(env, 0, &zero);
  return zero;
}

// recvMsg(fd, timeoutMs): waits up to timeoutMs (-1: for ever) for one message on a unix socket;
// {data: string | null (EOF), fds: number[]}, or null when the time passed first.
static napi_value RecvMsg(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd = -1, timeout_ms = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "recvMsg(fd, timeoutMs)");
    return NULL;
  }
  if (argc > 1) napi_get_value_int32(env, argv[1], &timeout_ms);
  struct pollfd pfd = {fd, POLLIN, 0};
  int ready;
  do ready = poll(&pfd, 1, timeout_ms);
  while (ready < 0 && errno == EINTR);
  if (ready < 0) return throw_errno(env, "poll");
  if (ready == 0) {
    napi_value none;
    napi_get_null(env, &none);
    return none;
  }
  char buf[65536];
  char cbuf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, "recvmsg");
  napi_value result, data, fds;
  napi_create_object(env, &result);
  napi_create_array(env, &fds);
  uint32_t count = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int got;
      memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      napi_value v;
      napi_create_int32(env, got, &v);
      napi_set_element(env, fds, count++, v);
    }
  }
  if (n == 0 && count == 0) napi_get_null(env, &data);
  else napi_create_string_utf8(env, buf, (size_t)n, &data);
  napi_set_named_property(env, result, "data", data);
  napi_set_named_property(env, result, "fds", fds);
  return result;
}

// reapChildren(): collects every child that ended (the copies a held heap forked); how many.
static napi_value ReapChildren(napi_env env, napi_callback_info info) {
  (void)info;
  int n = 0;
  while (waitpid(-1, NULL, WNOHANG) > 0) n++;
  napi_value result;
  napi_create_int32(env, n, &result);
  return result;
}

// waitPid(pid): blocks until that child ends; its raw wait status (-1 when it is not ours).
static napi_value WaitPid(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int pid = 0, status = -1;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "waitPid(pid)");
    return NULL;
  }
  pid_t r;
  do r = waitpid(pid, &status, 0);
  while (r < 0 && errno == EINTR);
  napi_value result;
  napi_create_int32(env, r < 0 ? -1 : status, &result);
  return result;
}

// The call's first argument as an int, or `fallback` when there is none (or it is no number).
static int first_int_arg(napi_env env, napi_callback_info info, int fallback) {
  size_t argc = 1;
  napi_value argv[1];
  int v = fallback;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc > 0 && napi_get_value_int32(env, argv[0], &v) != napi_ok) v = fallback;
  return v;
}

// setDumpable(0|1): a held heap is not readable through /proc or ptrace by anything of the same uid.
static napi_value SetDumpable(napi_env env, napi_callback_info info) {
  int on = first_int_arg(env, info, 0);
  if (prctl(PR_SET_DUMPABLE, on ? 1 : 0, 0, 0, 0) != 0) return throw_errno(env, "prctl");
  return NULL;
}

// exitNow(code): _exit, without running the event loop's exit handlers (a held heap has nothing to flush).
static napi_value ExitNow(napi_env env, napi_callback_info info) {
  _exit(first_int_arg(env, info, 0));
}

// getPid(): this process's pid now (node's process.pid is the one it started with, not a fork's).
static napi_value GetPid(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_int32(env, (int32_t)getpid(), &result);
  return result;
}

static uv_loop_t *zygote_uv_loop;

// Whether fd is a pidfd (the zygote's, one per spare it watches).
static int is_pidfd(int fd) {
  char path[64], link[64];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, link, sizeof link - 1);
  if (n < 0) return 0;
  link[n] = 0;
  return strcmp(link, "anon_inode:[pidfd]") == 0;
}

// A new node spare, right after its fork (zygote_serve): its libuv loop re-created (while the
// old fds are still open, so what libuv closes is its own), in a new session, its pipe ends
// as fds 0-5 (the zygote's 0-5 were all open: libuv's fds lie above), and the zygote's own fds
// closed: its socket, its epoll fd and every pidfd. (Not closefrom, as for python: libuv's
// fds, and the signal pipe libuv re-made in glibc's at-fork hook, must stay.)
static void node_spare_setup(int *ends, int sock, int ep) {
  populate_hot_pages();  // (what the rehearsal wrote: one madvise per run, not a fault per page)
  if (uv_loop_fork(zygote_uv_loop) != 0) _exit(70);
  if (setsid() < 0) _exit(70);
  for (int i = 0; i < N_PIPES; i++) {
    if (ends[i] < FIRST_FREE_FD) _exit(70);  // (cannot be: 0-5 were open in the zygote)
    if (dup2(ends[i], i) != i) _exit(70);
  }
  for (int i = 0; i < N_PIPES; i++) close(ends[i]);
  if (sock >= FIRST_FREE_FD) close(sock);  // (below, one of the spare's fds replaced it)
  if (ep >= FIRST_FREE_FD) close(ep);
  DIR *fds = opendir("/proc/self/fd");
  if (!fds) _exit(70);
  int pidfds[256], n = 0;
  for (struct dirent *e; (e = readdir(fds)) != NULL;) {
    int fd = atoi(e->d_name);
    if (fd >= FIRST_FREE_FD && fd != dirfd(fds) && is_pidfd(fd)) {
      if (n == 256) _exit(70);
      pidfds[n++] = fd;
    }
  }
  closedir(fds);
  for (int i = 0; i < n; i++) close(pidfds[i]);
}

static int event_loop_of(napi_env env) {
  if (napi_get_uv_event_loop(env, &zygote_uv_loop) != napi_ok || zygote_uv_loop == NULL) {
    napi_throw_error(env, NULL, "no event loop");
    return -1;
  }
  inherit_all_mappings();  // (V8 allocates nothing while C runs: no JavaScript runs)
  return 0;
}

// rehearse(program): in a node zygote, before it serves (zygote_rehearse): a rehearsal spare
// runs `program` (a Buffer: a spare's control pipe bytes) and reports the pages it touched
// (reportPagesTouched) instead of an exit. Returns null in the rehearsal spare (fds 0-5 in
// place), the pages learned in the zygote.
static napi_value Rehearse(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void *data = NULL;
  size_t len = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_buffer_info(env, argv[0], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "rehearse(buffer)");
    return NULL;
  }
  if (event_loop_of(env) != 0) return NULL;
  long learned = 0;
  napi_value result;
  if (zygote_rehearse((const char *)data, len, node_spare_setup, &learned)) {
    napi_get_null(env, &result);
  } else {
    napi_create_int64(env, learned, &result);
  }
  return result;
}

// reportPagesTouched(fd): the rehearsal spare's end: the pages it touched, to the zygote.
static napi_value ReportPagesTouched(napi_env env, napi_callback_info info) {
  report_pages_touched(first_int_arg(env, info, -1));
  return NULL;
}

// zygoteLoop(sock): in a node zygote, the zygote's loop; returns 0 only in a new spare (its fds
// 0-5 its pipes); throws in the zygote when it must end (the agent then starts spares itself).
static napi_value ZygoteLoop(napi_env env, napi_callback_info info) {
  int sock = first_int_arg(env, info, -1);
  if (event_loop_of(env) != 0) return NULL;
  if (zygote_serve(sock, node_spare_setup) != 0) return throw_errno(env, "zygote");
  napi_value zero;
  napi_create_int32(env, 0, &zero);
  return zero;
}

static volatile sig_atomic_t crash_exit_code;
static void exit_on_crash(int sig) {
  (void)sig;
  _exit(crash_exit_code);
}

// exitOnCrash(code): in a forked spare whose program ended with an uncaught exception: node
// prints it and then tears itself down, which in a fork ends in SIGSEGV (its platform's threads
// exist only in the zygote); from here such a crash is an _exit(code) instead.
static napi_value ExitOnCrash(napi_env env, napi_callback_info info) {
  crash_exit_code = first_int_arg(env, info, 1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = exit_on_crash;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  return NULL;
}

static napi_value Init(napi_env env, napi_value exports) {
  hot_pages_init();
  napi_property_descriptor props[] = {
      {"forkInto", NULL, ForkInto, NULL, NULL, NULL, napi_default, NULL},
      {"recvMsg", NULL, RecvMsg, NULL, NULL, NULL, napi_default, NULL},
      {"waitPid", NULL, WaitPid, NULL, NULL, NULL, napi_default, NULL},
      {"setDumpable", NULL, SetDumpable, NULL, NULL, NULL, napi_default, NULL},
      {"exitNow", NULL, ExitNow, NULL, NULL, NULL, napi_default, NULL},
      {"getPid", NULL, GetPid, NULL, NULL, NULL, napi_default, NULL},
      {"reapChildren", NULL, ReapChildren, NULL, NULL, NULL, napi_default, NULL},
      {"zygoteLoop", NULL, ZygoteLoop, NULL, NULL, NULL, napi_default, NULL},
      {"rehearse", NULL, Rehearse, NULL, NULL, NULL, napi_default, NULL},
      {"reportPagesTouched", NULL, ReportPagesTouched, NULL, NULL, NULL, napi_default, NULL},
      {"exitOnCrash", NULL, ExitOnCrash, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
