"""Writing and deleting inside a folder someone else may have prepared, without ever reaching outside it.

A run, scorecard, study or cache folder can come from another person: any name in it may be a symbolic link to a
file elsewhere. Every write, rename and delete gan-spec makes in such a folder goes through a `Root`:

- the root itself may be a link the user named on the command line; below it, every folder is opened with
  O_NOFOLLOW relative to its parent's descriptor, so a link planted at any level is refused, never followed;
- files are written to a new temporary name (O_CREAT | O_EXCL | O_NOFOLLOW) and renamed over the target, so a
  link at the target is replaced, its target untouched, and a reader never sees half a file;
- a write that fails (a full disk, a read-only folder) removes its temporary file and raises `OSError`: torch's
  own writer raises RuntimeError on a full disk, which is turned into the OSError it stands for;
- a tree is deleted only through `rmtree`, which refuses a link and never follows one below;
- files are files: a name gan-spec opens is looked at with lstat first and fstat after a non-blocking open, so a
  FIFO, a socket, a device or a folder is refused (never opened for long, never waited on); a file written in place
  (an append, the lock) must have one link and lie on its folder's device, so a hard link or a bind-mounted file
  is never written through (`check_file`, impl/core/regular.py);
- temporary names are `.<name>.<8 hex>.tmp` (`TEMP_NAME`), short enough for a 255-byte name, so a later start
  recognises what a killed process left.

A refused link or non-file is `Unsafe` (exit 2): one line naming the path.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath, PurePosixPath
from typing import IO, Any

from impl.core.errors import RunError
from impl.core.regular import (
    NONBLOCKING,
    TEMP_NAME,
    WRITE_FAILURES,
    Unsafe,
    check_file,
    describe,
    open_regular,
    read_regular,
    temporary_name,
    write_failure,
)

# the names from impl.core.regular are re-exported: impl.core.files is where callers look for them
__all__ = [
    "NONBLOCKING", "TEMP_NAME", "WRITE_FAILURES", "Root", "Unsafe", "check_file", "describe", "nearest_existing",
    "open_regular", "read_regular", "temporary_name", "unwritable", "write_failure",
]


def nearest_existing(path: Path) -> Path:
    """`path` itself when it exists, else the nearest folder above it that does (the file system root at last)."""
    path = Path(path)
    return next(p for p in (path, *path.absolute().parents) if p.exists() or p == Path(p.anchor or "."))


def unwritable(path: Path) -> Path | None:
    """What stops gan-spec from writing `path` when it cannot be written (read-only file system or no permission);
    None when it can. The permission asked is what the write needs: an existing file is replaced by a rename, so its
    folder must be writable and searchable (the file itself need not be executable, nor even writable); a missing
    path needs the same of the nearest folder above it. Commands ask before the work, so a read-only output is one
    line at the start, never after an hour."""
    existing = nearest_existing(path)
    if existing.exists() and not existing.is_dir():  # a file replaced by rename: its folder is what is written
        existing = existing.parent
    return None if os.access(existing, os.W_OK | os.X_OK) else existing


def _parts(relative: str | PurePath) -> list[str]:
    parts = PurePosixPath(relative).parts
    if not parts or PurePosixPath(relative).is_absolute() or any(p in ("..", ".", "") for p in parts):
        raise ValueError(f"{relative!r}: not a plain relative path")  # a bug of the caller, never user input
    return list(parts)


class Root:
    """A folder that writes are confined to. Paths given to its methods are relative to it ('a/b.png')."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Root({str(self.path)!r})"

    # ------------------------------------------------------------------ folders
    def _open_dir(self, parts: list[str], create: bool) -> int:
        """A descriptor of the folder root/parts[0]/.../parts[-1], each level opened without following links."""
        flags = os.O_RDONLY | os.O_DIRECTORY
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, flags)
        try:
            for i, part in enumerate(parts):
                try:
                    child = os.open(part, flags | os.O_NOFOLLOW, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(part, dir_fd=fd)
                    except FileExistsError:  # made by another process meanwhile, or a dangling link
                        pass
                    child = self._child(fd, parts[: i + 1])
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise self._unsafe(parts[: i + 1], exc) from None
                    raise
                os.close(fd)
                fd = child
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _child(self, fd: int, parts: list[str]) -> int:
        try:
            return os.open(parts[-1], os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise self._unsafe(parts, exc) from None
            raise

    def _unsafe(self, parts: list[str], exc: OSError) -> Unsafe:
        path = self.path.joinpath(*parts)
        what = "a symbolic link" if path.is_symlink() else "not a folder"
        if exc.errno == errno.ENOTDIR and not path.is_symlink():
            return Unsafe(f"{path}: {what}, where gan-spec keeps a folder; move it away")
        return Unsafe(f"{path}: {what}; gan-spec never writes through links in a folder it writes to "
                      "(someone prepared this folder); remove the link or choose another folder")

    def refuse_links(self, relatives: list[str]) -> None:
        """Unsafe (one line naming it) when one of these paths under the root is a symbolic link: a folder's own
        names checked before any work, so a planted link stops a command at the start, not half way."""
        for relative in relatives:
            if self.path.joinpath(relative).is_symlink():
                raise self._unsafe(_parts(relative), OSError(errno.ELOOP, "link"))

    @contextmanager
    def folder(self, relative: str | PurePath = "", create: bool = True) -> Iterator[int]:
        """A descriptor of a folder under the root (made when missing), closed after use."""
        fd = self._open_dir(_parts(relative) if str(relative) not in ("", ".") else [], create)
        try:
            yield fd
        finally:
            os.close(fd)

    def mkdir(self, relative: str | PurePath) -> Path:
        with self.folder(relative):
            pass
        return self.path / relative

    # ------------------------------------------------------------------ files
    @contextmanager
    def replacing(self, relative: str | PurePath) -> Iterator[IO[bytes]]:
        """A binary file object whose bytes replace `relative` when the block ends without error: written to a new
        temporary file beside it, flushed to disk and renamed over it; on any error the temporary file is removed."""
        parts = _parts(relative)
        with self.folder(PurePosixPath(*parts[:-1]) if len(parts) > 1 else "") as fd:
            self._check_target(fd, parts)
            tmp = temporary_name(parts[-1])
            handle = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=fd)
            try:
                with os.fdopen(handle, "wb") as fh:
                    try:
                        yield fh
                        fh.flush()
                        os.fsync(fh.fileno())
                    except RuntimeError as exc:  # torch.save on a full disk
                        raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)}: torch's writer stopped part way "
                                      f"({str(exc).splitlines()[0][:80]})") from None
                os.replace(tmp, parts[-1], src_dir_fd=fd, dst_dir_fd=fd)
                os.fsync(fd)
            except BaseException:
                try:
                    os.unlink(tmp, dir_fd=fd)
                except OSError:
                    pass
                raise

    def write_bytes(self, relative: str | PurePath, data: bytes) -> Path:
        with self.replacing(relative) as fh:
            fh.write(data)
        return self.path / relative

    def write_text(self, relative: str | PurePath, text: str) -> Path:
        return self.write_bytes(relative, text.encode("utf-8"))

    def write_json(self, relative: str | PurePath, data: Any) -> Path:
        return self.write_text(relative, json.dumps(data, indent=2, ensure_ascii=False, default=str))

    def write_with(self, relative: str | PurePath, writer: Callable[[IO[bytes]], object]) -> Path:
        """Let `writer(file object)` write the bytes (torch.save, PIL's save, matplotlib's savefig), atomically."""
        buffer = io.BytesIO()
        writer(buffer)
        return self.write_bytes(relative, buffer.getvalue())

    def _check_target(self, fd: int, parts: list[str]) -> None:
        """Before a file is replaced: what is at its name may be a file or a link (replaced, never followed), but not a
        folder, nor a file of another file system (a mount that a rename cannot replace)."""
        try:
            st = os.lstat(parts[-1], dir_fd=fd)
        except FileNotFoundError:
            return
        path = self.path.joinpath(*parts)
        if stat.S_ISDIR(st.st_mode):
            raise Unsafe(f"{path}: a folder where gan-spec writes a file; move it away or choose another folder")
        if st.st_dev != os.fstat(fd).st_dev:
            raise Unsafe(f"{path}: on another file system than its folder (a mount); gan-spec never writes across a "
                         "mount: unmount it or choose another folder")

    def _open_in_place(self, fd: int, parts: list[str], flags: int) -> int:
        """A regular file of one link on the folder's device, opened without blocking; Unsafe otherwise."""
        return open_regular(parts[-1], flags | os.O_CREAT, dir_fd=fd, folder_device=os.fstat(fd).st_dev,
                            written=True)

    def append(self, relative: str | PurePath, data: bytes) -> None:
        """Append bytes to a file (made when missing); a line cut short by a kill is ended first. A file that shares
        its inode with another (`cp -al`, `ln`) is first replaced by a copy of its own, so the append never reaches
        the other file; a FIFO, a device, a folder or a mount at the name is Unsafe."""
        parts = _parts(relative)
        with self.folder(PurePosixPath(*parts[:-1]) if len(parts) > 1 else "") as fd:
            try:
                handle = self._open_in_place(fd, parts, os.O_RDWR | os.O_APPEND)
            except Unsafe:
                st = os.lstat(parts[-1], dir_fd=fd)
                if not stat.S_ISREG(st.st_mode) or st.st_nlink == 1 or st.st_dev != os.fstat(fd).st_dev:
                    raise
                self._unshare(fd, parts)
                handle = self._open_in_place(fd, parts, os.O_RDWR | os.O_APPEND)
            with os.fdopen(handle, "r+b") as fh:
                end = fh.seek(0, os.SEEK_END)
                if end:
                    fh.seek(end - 1)
                    if fh.read(1) != b"\n":
                        data = b"\n" + data
                fh.write(data)

    def _unshare(self, fd: int, parts: list[str]) -> None:
        """Replace a hard-linked file by a copy of its bytes (a new inode); the other links keep theirs untouched."""
        handle = os.open(parts[-1], os.O_RDONLY | NONBLOCKING | os.O_NOFOLLOW, dir_fd=fd)
        with os.fdopen(handle, "rb") as fh:
            check_file(os.fstat(fh.fileno()), self.path.joinpath(*parts))
            data = fh.read()
        self.write_bytes(PurePosixPath(*parts), data)

    def rename(self, relative: str | PurePath, new_name: str) -> bool:
        """Rename a file within its folder (a link is renamed itself); False when it is not there."""
        parts = _parts(relative)
        with self.folder(PurePosixPath(*parts[:-1]) if len(parts) > 1 else "", create=False) as fd:
            try:
                os.replace(parts[-1], new_name, src_dir_fd=fd, dst_dir_fd=fd)
            except FileNotFoundError:
                return False
            os.fsync(fd)
        return True

    def remove(self, relative: str | PurePath) -> None:
        """Delete one file (a link is removed itself, its target untouched); missing is fine."""
        parts = _parts(relative)
        try:
            with self.folder(PurePosixPath(*parts[:-1]) if len(parts) > 1 else "", create=False) as fd:
                os.unlink(parts[-1], dir_fd=fd)
        except FileNotFoundError:
            pass

    def rmtree(self, relative: str | PurePath) -> None:
        """Delete a folder and everything in it, refusing a link at any level and a mount anywhere in it (nothing
        outside the folder's file system is ever reached); the check walks the whole tree before anything goes."""
        parts = _parts(relative)
        with self.folder(PurePosixPath(*parts[:-1]) if len(parts) > 1 else "", create=False) as fd:
            if os.path.islink(self.path.joinpath(*parts)):
                raise self._unsafe(parts, OSError(errno.ELOOP, "link"))
            device = os.fstat(fd).st_dev
            for top, dirs, _files, top_fd in os.fwalk(parts[-1], dir_fd=fd):
                if os.fstat(top_fd).st_dev != device:
                    raise Unsafe(f"{self.path.joinpath(*parts[:-1], top)}: a mount inside a folder gan-spec deletes; "
                                 "unmount it first (gan-spec never deletes across file systems)")
                for name in dirs:  # fwalk lists a link to a folder here and never enters it
                    if os.lstat(name, dir_fd=top_fd).st_dev != device:
                        raise Unsafe(f"{self.path.joinpath(*parts[:-1], top, name)}: a mount inside a folder "
                                     "gan-spec deletes; unmount it first (gan-spec never deletes across file systems)")
            shutil.rmtree(parts[-1], dir_fd=fd)

    @contextmanager
    def locked(self, relative: str | PurePath, holder: str) -> Iterator[None]:
        """Hold an exclusive lock file under the root while the block runs; a second holder is refused (RunError)
        with the first one's description. The lock is always a file of its own: a hard link planted at its name is
        unlinked (its other names keep their bytes) and a fresh file made; a FIFO, a device or a mount is Unsafe."""
        parts = _parts(relative)
        with self.folder(PurePosixPath(*parts[:-1]) if len(parts) > 1 else "") as fd:
            handle = self._fresh_lock(fd, parts)
        with os.fdopen(handle, "r+", encoding="utf-8") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                first = fh.read(4096).strip() or "another process"
                raise RunError(f"{self.path}: in use by {first}; wait for it to finish or stop it first") from None
            fh.seek(0)
            fh.truncate()
            fh.write(holder)
            fh.flush()
            try:
                yield
            finally:
                fh.seek(0)
                fh.truncate()
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _fresh_lock(self, fd: int, parts: list[str]) -> int:
        for _ in range(8):
            try:
                st = os.lstat(parts[-1], dir_fd=fd)
            except FileNotFoundError:
                pass
            else:
                if stat.S_ISREG(st.st_mode) and st.st_nlink > 1 and st.st_dev == os.fstat(fd).st_dev:
                    os.unlink(parts[-1], dir_fd=fd)  # a planted hard link: the name goes, the other file stays
                elif stat.S_ISLNK(st.st_mode):
                    raise self._unsafe(parts, OSError(errno.ELOOP, "link"))
            handle = self._open_in_place(fd, parts, os.O_RDWR)
            try:  # still the file at the name (not unlinked by a racing process meanwhile)?
                same = os.lstat(parts[-1], dir_fd=fd).st_ino == os.fstat(handle).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return handle
            os.close(handle)
        raise RunError(f"{self.path.joinpath(*parts)}: the lock file keeps changing; another process is fighting "
                       "over it: stop it first")
