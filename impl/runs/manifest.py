"""Deletion by record: a run folder lists every name gan-spec wrote in it (`.written`, one relative path a line,
recorded before the bytes are written, so a kill never leaves an unrecorded file), and a run is deleted only when
its whole tree is made of recorded names, gan-spec's own temporary files and its lock. The walk never follows a
link and never crosses a mount (st_dev); anything else in the tree is refused in one line and nothing is deleted.

The temporary files a killed process left (`impl.core.files.TEMP_NAME`, older than the process that now holds the lock)
are removed at the next start (`clean_leftovers`).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath, PurePosixPath
from typing import IO

from impl.core.errors import RunError
from impl.core.files import TEMP_NAME, Root, Unsafe

MANIFEST = ".written"
UNRECORDED = (".lock", MANIFEST)  # gan-spec's own names that are never listed in the record
TOOL_PREFIXES = {"tensorboard": "events.out.tfevents."}  # folders another library writes into, and its names


class RecordedRoot(Root):
    """A Root that records each name it writes (files and folders) in the folder's manifest before writing it."""

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self._known: set[str] | None = None

    def recorded(self) -> set[str]:
        """The names the manifest lists (read once; an empty set when there is none)."""
        if self._known is None:
            self._known = read_manifest(self.path)
        return self._known

    def note(self, relative: str | PurePath) -> None:
        name = str(PurePosixPath(relative))
        if name in ("", ".") or name in UNRECORDED or name in self.recorded():
            return
        Root.append(self, MANIFEST, (name + "\n").encode("utf-8", "surrogateescape"))
        self.recorded().add(name)

    @contextmanager
    def replacing(self, relative: str | PurePath) -> Iterator[IO[bytes]]:
        self.note(relative)
        with super().replacing(relative) as fh:
            yield fh

    def append(self, relative: str | PurePath, data: bytes) -> None:
        self.note(relative)
        super().append(relative, data)

    def mkdir(self, relative: str | PurePath) -> Path:
        self.note(relative)
        return super().mkdir(relative)

    def rename(self, relative: str | PurePath, new_name: str) -> bool:
        self.note(PurePosixPath(relative).with_name(new_name))
        return super().rename(relative, new_name)


def read_manifest(folder: Path) -> set[str]:
    """The names recorded in a folder's manifest; empty when it has none (a run made before the record existed)."""
    from impl.core.files import read_regular

    try:
        raw = read_regular(folder / MANIFEST)
    except FileNotFoundError:
        return set()
    return {line for line in raw.decode("utf-8", "surrogateescape").splitlines() if line}


def _walk(folder: Path) -> Iterator[tuple[str, os.stat_result]]:
    """(relative name, lstat) of everything under `folder`, folders after their contents; Unsafe at a mount."""
    device = os.lstat(folder).st_dev
    for top, dirs, files, top_fd in os.fwalk(folder, topdown=False):
        relative = PurePosixPath(os.path.relpath(top, folder))
        for name in [*files, *dirs]:
            st = os.lstat(name, dir_fd=top_fd)
            if st.st_dev != device:
                raise Unsafe(f"{Path(top) / name}: a mount inside the run folder; gan-spec never deletes across file "
                             "systems: unmount it, then resume")
            yield (str(relative / name) if str(relative) != "." else name), st


def _ours(name: str, st: os.stat_result, recorded: set[str], folders: set[str]) -> bool:
    path = PurePosixPath(name)
    if stat.S_ISDIR(st.st_mode):
        return name in recorded or name in folders
    if not stat.S_ISREG(st.st_mode):  # a link, a FIFO, a device: never something gan-spec wrote
        return False
    if name in recorded or name in UNRECORDED or TEMP_NAME.match(path.name):
        return True
    prefix = TOOL_PREFIXES.get(str(path.parent))
    return prefix is not None and path.name.startswith(prefix)


def delete_recorded(folder: Path) -> None:
    """Delete a run folder that holds only what gan-spec recorded writing (the folder itself stays when it is a mount
    point); else RunError, one line naming what else is there, and nothing is deleted."""
    recorded = read_manifest(folder)
    if not recorded:
        raise RunError(f"{folder}: holds no record of what gan-spec wrote in it ({MANIFEST}; made by an earlier "
                       "version, or not a run); move it away, then resume")
    folders = {str(p) for name in recorded for p in PurePosixPath(name).parents if str(p) != "."}
    entries = list(_walk(folder))
    strangers = [name for name, st in entries if not _ours(name, st, recorded, folders)]
    if strangers:
        raise RunError(f"{folder}: holds files gan-spec did not write ({', '.join(sorted(strangers)[:3])}); move them "
                       "away, then resume")
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name, st in entries:  # contents before their folders (a bottom-up walk)
            parent = os.open(str(PurePosixPath(name).parent), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW,
                             dir_fd=fd)
            try:
                if stat.S_ISDIR(st.st_mode):
                    os.rmdir(PurePosixPath(name).name, dir_fd=parent)
                else:
                    os.unlink(PurePosixPath(name).name, dir_fd=parent)
            finally:
                os.close(parent)
    finally:
        os.close(fd)
    if os.lstat(folder).st_dev == os.lstat(folder.absolute().parent).st_dev:  # a mount point stays, emptied
        folder.rmdir()


def clean_leftovers(folder: Path, since: float) -> list[str]:
    """Remove the temporary files a killed process left in a run folder (TEMP_NAME, last changed before `since`,
    when this process took the lock): never following a link, never crossing a mount. Returns what went."""
    removed: list[str] = []
    device = os.lstat(folder).st_dev
    for top, dirs, files, top_fd in os.fwalk(folder):
        dirs[:] = [d for d in dirs if os.lstat(d, dir_fd=top_fd).st_dev == device]
        for name in files:
            if not TEMP_NAME.match(name):
                continue
            st = os.lstat(name, dir_fd=top_fd)
            if stat.S_ISREG(st.st_mode) and st.st_mtime < since:
                os.unlink(name, dir_fd=top_fd)
                removed.append(os.path.join(top, name))
    return removed
