"""Pseudo-terminals: an execution with `tty` runs on a pty started for it (stdout and stderr
merged), not in a spare; `resize` frames set its size (SIGWINCH reaches the program)."""

import fcntl
import struct


def terminal_size(spec):
    """(cols, rows) from an exec's or resize's numbers, each kept within 1..1000."""
    return tuple(min(1000, max(1, int(spec[k]))) for k in ("cols", "rows"))


def set_terminal_size(fd, cols, rows):
    # termios is imported here, not at the top: spares (forked from the zygote) never need it,
    # and every module the zygote holds makes each spare's fork and exit a little dearer.
    import termios

    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def make_tty_child():
    """In a program's process before exec (a new session, the pty on 0-2): the pty becomes
    its controlling terminal, so Ctrl-C, SIGWINCH and job control work as on a terminal."""
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def end_of_input(pending, last_input):
    """What ends a terminal's input: it has no "close", so Ctrl-D at the start of a line (a
    second one ends a line that has no newline yet)."""
    tail = pending[-1:] or last_input
    return b"\x04" if tail in (b"\n", b"\r") else b"\x04\x04"
