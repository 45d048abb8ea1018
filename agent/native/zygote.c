// The zygote's loop, shared by the python zygote (agent/native/_native.c, with its spares' hot
// pages) and the node one (agent/node-fork/fork.c): see zygote.h. Both compile this file in.
//
// Why C: after a fork, every page a process writes is a copy-on-write fault, and on this kind
// of VM a fault costs 10-30 µs; the zygote's Python loop wrote 25-90 of its pages between one
// fork and the next, this loop ~2 (measured in the python image).
#define _GNU_SOURCE
#include "zygote.h"

#include "hot_pages.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SOCK_TAG UINT64_MAX

// By a spare's fd 0-5 (stdin, stdout, stderr, control, status, progress): whether the spare
// gets the pipe's read end (the agent keeps the other end).
static const int spare_gets_read_end[N_PIPES] = {1, 0, 0, 1, 0, 0};

size_t clamp(int len, size_t size) { return len < 0 ? 0 : (size_t)len >= size ? size - 1 : (size_t)len; }

static int send_msg(int sock, const char *msg, size_t len, const int *fds, int nfds) {
  struct iovec iov = {.iov_base = (void *)msg, .iov_len = len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * N_PIPES)];
    struct cmsghdr align;
  } control;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (nfds > 0) {
    memset(&control, 0, sizeof control);
    mh.msg_control = control.buf;
    mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
  }
  for (;;) {
    if (sendmsg(sock, &mh, MSG_NOSIGNAL) >= 0) return 0;
    if (errno != EINTR) return -1;
  }
}

// In the new spare: its pipe ends to fds 0-5, everything else closed, in a new session; the
// spare ends (70, as a failed Python spare) if any step fails rather than run with an fd of the
// zygote's in place (fds 0-2 are the agent's; same-uid code can lower the zygote's fd limit).
void arrange_spare_fds(int *ends) {
  if (setsid() < 0) _exit(70);
  for (int i = 0; i < N_PIPES; i++) {
    if (ends[i] < FIRST_FREE_FD && (ends[i] = fcntl(ends[i], F_DUPFD, 16)) < 0) _exit(70);  // above every target first
  }
  for (int i = 0; i < N_PIPES; i++) {
    if (dup2(ends[i], i) != i) _exit(70);
  }
  // Everything else (the zygote's epoll fd and pidfds among them): glibc's closefrom is
  // close_range, or else every fd /proc/self/fd lists (aborting if it cannot), not bounded by
  // RLIMIT_NOFILE, which same-uid code can lower.
  closefrom(FIRST_FREE_FD);
}

// Forks one spare. Returns 0 in the spare, 1 in the zygote once the agent has it, -1 on failure.
static int start_spare(int sock, int ep, spare_setup setup) {
  int p[N_PIPES][2], mine[N_PIPES], theirs[N_PIPES], made = 0;
  for (; made < N_PIPES; made++) {
    if (pipe2(p[made], O_CLOEXEC) < 0) goto fail;
    mine[made] = p[made][spare_gets_read_end[made] ? 1 : 0];
    theirs[made] = p[made][spare_gets_read_end[made] ? 0 : 1];
  }
  pid_t pid = fork();
  if (pid < 0) goto fail;
  if (pid == 0) {
    for (int i = 0; i < N_PIPES; i++) close(mine[i]);  // (the agent's ends)
    setup(theirs, sock, ep);
    return 0;
  }
  for (int i = 0; i < N_PIPES; i++) close(theirs[i]);
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd >= 0) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint32_t)pidfd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, pidfd, &ev) < 0) close(pidfd);
  }  // (no pidfd: gone already, reaped at the next one's wake-up)
  char msg[64];
  int len = snprintf(msg, sizeof msg, "{\"type\":\"spare\",\"pid\":%d}", (int)pid);
  int sent = send_msg(sock, msg, clamp(len, sizeof msg), mine, N_PIPES);
  for (int i = 0; i < N_PIPES; i++) close(mine[i]);
  if (sent < 0) _exit(0);  // the agent is gone
  return 1;
fail:;
  int saved = errno;
  for (int i = 0; i < made; i++) {
    close(p[i][0]);
    close(p[i][1]);
  }
  errno = saved;
  return -1;
}

static double seconds(struct timeval t) { return (double)t.tv_sec + (double)t.tv_usec / 1e6; }

static void report_ended(int sock) {
  for (;;) {
    int status;
    struct rusage ru;
    pid_t pid = wait4(-1, &status, WNOHANG, &ru);
    if (pid <= 0) return;
    char msg[128];
    int len = snprintf(msg, sizeof msg, "{\"type\":\"exit\",\"pid\":%d,\"status\":%d,\"cpu\":%.6f,\"maxrss\":%ld}",
                       (int)pid, status, seconds(ru.ru_utime) + seconds(ru.ru_stime), ru.ru_maxrss);
    if (send_msg(sock, msg, clamp(len, sizeof msg), NULL, 0) < 0) _exit(0);  // the agent is gone
  }
}

// A fork that failed for want of a resource (the sandbox's pids limit, the uid's RLIMIT_NPROC,
// memory, fds: a program's fork bomb, or same-uid code lowering our limits with prlimit) is
// tried again later, when a spare ends or every RETRY_MS: the zygote stays, and the spares owed
// to the agent come once the resource is back (the agent holds executions until then). After
// GIVE_UP_MS of nothing but failures (a hard limit lowered for good) it ends, as it did at the
// first failure before: the agent then forks spares itself.
#define RETRY_MS 100
#define GIVE_UP_MS 10000

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int out_of_resources(int err) { return err == EAGAIN || err == ENOMEM || err == EMFILE || err == ENFILE; }

static void say(const char *line) {
  ssize_t ignored = write(2, line, strlen(line));
  (void)ignored;
}

int zygote_serve(int sock, spare_setup setup) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return -1;
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = SOCK_TAG};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, sock, &ev) < 0) goto fail;
  struct epoll_event events[16];
  char buf[64];
  long owed = 0;  // spares the agent asked for and has not got yet
  long long failing_since = 0;  // 0: the last fork worked
  for (;;) {
    int n = epoll_wait(ep, events, 16, owed > 0 ? RETRY_MS : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      goto fail;
    }
    int ended = 0;
    for (int i = 0; i < n; i++) {
      if (events[i].data.u64 != SOCK_TAG) {  // a spare's pidfd: that spare has ended
        int pidfd = (int)events[i].data.u64;
        epoll_ctl(ep, EPOLL_CTL_DEL, pidfd, NULL);
        close(pidfd);
        ended = 1;
        continue;
      }
      // One message from the agent (only it holds the other end): 'S' once per spare wanted;
      // its length is the count (MSG_TRUNC: the whole length, however long), at most 4096 owed.
      ssize_t got = recv(sock, buf, sizeof buf, MSG_TRUNC);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) _exit(0);  // the agent is gone
      owed += got;
      if (owed > 4096) owed = 4096;
    }
    // (Also before a retry: a spare without a pidfd, one pidfd_open could not make, is reaped
    // only here, and its pid is what the fork may need.)
    if (ended || failing_since) report_ended(sock);
    while (owed > 0) {
      int r = start_spare(sock, ep, setup);
      if (r == 0) return 0;  // a new spare (setup closed the epoll fd with the rest)
      if (r < 0) {
        if (!out_of_resources(errno)) goto fail;
        if (!failing_since) {
          say("[agent] zygote: cannot fork a spare for now (out of processes, memory or fds); trying again\n");
          failing_since = now_ms();
        } else if (now_ms() - failing_since > GIVE_UP_MS) {
          say("[agent] zygote: no fork for 10 s; ending (the agent forks spares itself)\n");
          goto fail;
        }
        break;
      }
      if (failing_since) say("[agent] zygote: forking spares again\n");
      failing_since = 0;
      owed--;
    }
  }
fail:;
  int saved = errno;
  close(ep);
  errno = saved;
  return -1;
}

// The rehearsal (see zygote.h).
int zygote_rehearse(const char *program, size_t len, spare_setup setup, long *learned) {
  *learned = 0;
  // Whatever fails here, spares still work, only without pages mapped up front: 0 is returned.
  int ctrl[2] = {-1, -1}, stat[2] = {-1, -1};
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0 || pipe2(ctrl, O_CLOEXEC) < 0 || pipe2(stat, O_CLOEXEC) < 0 || len > 65536) {
    int fds[] = {null, ctrl[0], ctrl[1], stat[0], stat[1]};
    for (int i = 0; i < 5; i++) {
      if (fds[i] >= 0) close(fds[i]);
    }
    return 0;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(ctrl[1]);
    close(stat[0]);
    int ends[N_PIPES] = {null, null, null, ctrl[0], stat[1], null};
    setup(ends, -1, -1);
    return 1;
  }
  close(null);
  close(ctrl[0]);
  close(stat[1]);
  // The program fits the pipe's buffer (64 KiB: checked above), so this write does not wait on
  // the rehearsal; a rehearsal gone already fails it with EPIPE, not SIGPIPE (ignored meanwhile).
  struct sigaction ignore = {.sa_handler = SIG_IGN}, before;
  sigaction(SIGPIPE, &ignore, &before);
  for (size_t off = 0; pid > 0 && off < len;) {
    ssize_t put = write(ctrl[1], program + off, (size_t)(len - off));
    if (put < 0 && errno != EINTR) break;
    if (put > 0) off += (size_t)put;
  }
  close(ctrl[1]);
  sigaction(SIGPIPE, &before, NULL);
  static struct hot_range recs[MAX_HOT_RANGES];
  size_t got = 0;
  struct pollfd report = {.fd = stat[0], .events = POLLIN};
  while (pid > 0 && got < sizeof recs) {  // at most 10 s: it runs `print()`
    int ready = poll(&report, 1, 10000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      got = 0;  // (timed out: nothing learned)
      kill(pid, SIGKILL);
      break;
    }
    ssize_t r = read(stat[0], (char *)recs + got, sizeof recs - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(stat[0]);
  while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  *learned = keep_hot_pages(recs, got / sizeof recs[0]);
  return 0;
}
