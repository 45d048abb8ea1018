// faas_fork: what a stateful javascript / typescript context's node needs to keep its heap in
// a snapshot (see node_holder.py and ctx-hold.cjs): fork() the process, the child entering
// namespaces the agent made (their fds passed over a unix socket) with no capabilities, and
// its libuv loop re-created; receive fds over that socket; wait for a child; leave at once.
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
#include <node_api.h>
#include <uv.h>

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

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"forkInto", NULL, ForkInto, NULL, NULL, NULL, napi_default, NULL},
      {"recvMsg", NULL, RecvMsg, NULL, NULL, NULL, napi_default, NULL},
      {"waitPid", NULL, WaitPid, NULL, NULL, NULL, napi_default, NULL},
      {"setDumpable", NULL, SetDumpable, NULL, NULL, NULL, napi_default, NULL},
      {"exitNow", NULL, ExitNow, NULL, NULL, NULL, napi_default, NULL},
      {"getPid", NULL, GetPid, NULL, NULL, NULL, napi_default, NULL},
      {"reapChildren", NULL, ReapChildren, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
