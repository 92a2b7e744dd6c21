"""Regular files only: what is at a name, in words, and opening it without ever blocking or writing through it.

A folder someone else prepared may hold a FIFO, a socket, a device, a folder, a hard link to a file elsewhere or a
file bind-mounted from another file system at a name gan-spec opens. `open_regular` looks with lstat before and
fstat after a non-blocking open and refuses anything but a regular file (`check_file`): a file written in place
must also have one link and lie on its folder's device. A refusal is `Unsafe` (exit 2), one line naming the path.
Writes that fail say their real cause (`write_failure`): a full disk, a folder in the way, no permission, a name too
long. Temporary files have names `TEMP_NAME` recognises, so a later start can clean what a kill left.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path

from impl.core.errors import RunError

WRITE_FAILURES = {  # errno -> (the cause in words, the fix): exit 3 names the real cause, not always the disk
    errno.ENOSPC: ("the disk is full", "free disk space"),
    errno.EDQUOT: ("the disk quota is used up", "free space within your quota"),
    errno.EISDIR: ("a folder is where a file was", "move the folder away"),
    errno.ENOTDIR: ("a file is where a folder was", "move the file away"),
    errno.EACCES: ("no permission", "make the folder writable for you"),
    errno.EPERM: ("not permitted (an immutable or append-only file or folder?)", "check `lsattr` and the owner"),
    errno.EROFS: ("the file system is read-only", "write to another folder"),
    errno.ENAMETOOLONG: ("a name too long for the file system", "choose a shorter name"),
    errno.EBUSY: ("a mount or a busy file is in the way", "unmount it"),
}


def write_failure(exc: BaseException) -> tuple[str, str]:
    """(the cause, the fix) of a failed write, in words, from its errno: 'the disk is full', 'free disk space'."""
    code = getattr(exc, "errno", None)
    if code in WRITE_FAILURES:
        return WRITE_FAILURES[code]
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__), "check the folder"


class Unsafe(RunError):
    """A path inside a folder gan-spec writes to is a symbolic link, leads outside the folder, or is not a regular
    file of its own (a FIFO, a device, a folder, a hard link, a mount)."""


TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")  # what `Root.replacing` names its temporary files
MAX_TEMP_STEM = 200  # the part of a name kept in its temporary name: '.' + 200 + '.' + 8 + '.tmp' < 255 bytes


def temporary_name(name: str) -> str:
    """A fresh temporary name for `name`, recognised by TEMP_NAME and never longer than a legal name allows."""
    stem = name.encode("utf-8", "surrogateescape")[:MAX_TEMP_STEM].decode("utf-8", "ignore") or "file"
    return f".{stem}.{secrets.token_hex(4)}.tmp"


def describe(mode: int) -> str:
    """What a file of this st_mode is, in words, for messages."""
    kinds = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))
    return next((what for test, what in kinds if test(mode)), "a regular file" if stat.S_ISREG(mode) else "odd")


def check_file(st: os.stat_result, path: Path | str, folder_device: int | None = None, written: bool = False) -> None:
    """Unsafe (one line naming `path`) unless `st` is a regular file; a file written in place (`written`) must also
    have one link (a hard link would carry the write into another file) and, when `folder_device` is given, lie on
    its folder's device (a file bind-mounted there belongs to another file system)."""
    if not stat.S_ISREG(st.st_mode):
        raise Unsafe(f"{path}: {describe(st.st_mode)}, not a regular file; gan-spec reads and writes only regular "
                     "files here; remove it or choose another folder")
    if folder_device is not None and st.st_dev != folder_device:
        raise Unsafe(f"{path}: on another file system than its folder (a mount); gan-spec never writes across a "
                     "mount: unmount it or choose another folder")
    if written and st.st_nlink != 1:
        raise Unsafe(f"{path}: has {st.st_nlink} hard links, so a write would change another file too; copy the "
                     "folder with `cp -r` (not `cp -al` or `ln`) or remove the link")


NONBLOCKING = os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: Path | str, flags: int = os.O_RDONLY, *, dir_fd: int | None = None,
                 folder_device: int | None = None, written: bool = False) -> int:
    """A descriptor of a regular file, opened without ever blocking (a FIFO, a device) and checked with lstat before
    and fstat after the open (`check_file`); Unsafe, one line, for anything else. O_NONBLOCK is cleared once the
    file is known to be regular. The name itself is never followed when it is a symbolic link (O_NOFOLLOW)."""
    try:
        before = os.lstat(path, dir_fd=dir_fd)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
    else:
        if stat.S_ISLNK(before.st_mode) and dir_fd is None:
            before = os.stat(path)  # a link the user named on the command line: its target is what they meant
        else:
            check_file(before, path, folder_device, written)
    try:
        fd = os.open(path, flags | NONBLOCKING | (os.O_NOFOLLOW if dir_fd is not None else 0), 0o644, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.ENODEV, errno.EWOULDBLOCK):
            kind = "a symbolic link" if exc.errno == errno.ELOOP else "not a regular file"
            raise Unsafe(f"{path}: {kind}; gan-spec reads and writes only regular files here; remove it or choose "
                         "another folder") from None
        raise
    try:
        check_file(os.fstat(fd), path, folder_device, written)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: Path | str) -> bytes:
    """The bytes of a regular file (`open_regular`): a FIFO or a device at `path` is one Unsafe line, never a wait."""
    with os.fdopen(open_regular(path), "rb") as fh:
        return fh.read()
