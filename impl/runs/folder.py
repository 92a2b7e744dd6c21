"""The run folder: the one place that names its files, reads them back and writes them.

    runs/<experiment>-<timestamp>/
        config.json            resolved recipe (value, status, source of each fact), overrides, versions, command
        metrics.jsonl          the training log: one row per logging interval (step, epoch, losses, images/s)
        epoch_metrics.jsonl    per-epoch metrics, when a scorecard asks for them
        metrics.json           impl.evaluate's metrics
        latent/latent.json     impl.latent's probe, beside its grids
        samples/epoch_NNN.png  the fixed noise batch after each epoch (step_NNNNNN.png with --sample-every)
        loss.png               loss curves
        checkpoints/last.pt    networks, optimizers, RNG states, step; prev.pt is the one before (impl/runs/checkpoint)
        .lock                  held while a process trains in the folder
        .written               every name gan-spec wrote here: a run is deleted only by this record (manifest.py)

A folder is a thing people send each other. `RunFolder(path)` reads our own folder strictly: a damaged config.json
is one RunError line. `RunFolder(path, trusted=False)` reads a folder someone else wrote (the report, the
scorecard's readers): anything of the wrong shape is left out with the reason, never an exception past
config.json. Either way every write goes through impl.core.files.Root, so no link inside the folder is followed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from impl.core.errors import RunError
from impl.core.files import Unsafe, check_file, read_regular
from impl.runs.manifest import MANIFEST, RecordedRoot, clean_leftovers, delete_recorded
from impl.runs.source import DataKind
from impl.runs.untrusted import kind, text
from spec.recipe import OVERRIDES

CONFIG_KEYS = {"experiment": str, "settings": dict, "total_steps": int}  # what every strict reader relies on
OPTIONAL_TABLES = ("recipe", "overrides")  # tables a strict reader reads when they are there
MAX_STEPS = OVERRIDES["steps"].limit  # a run's length as --set steps bounds it
NUMBERED: set[Path] = set()  # default folders named by this process: `create` numbers them on when taken meanwhile


def file_in_the_way(folder: Path, itself: bool = True) -> Path | None:
    """The file that stops `folder` from being a folder: the path itself (when `itself`) or one above it."""
    return next((p for p in ((folder,) if itself else ()) + tuple(folder.parents) if p.exists() and not p.is_dir()),
                None)


def json_lines(raw: bytes) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, one per line; lines that are not objects (cut short, garbage) skipped."""
    rows = []
    for line in raw.decode("utf-8", "replace").splitlines():
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


class RunFolder:
    """One run folder: the path of each of its files, the one reader of its JSON files and the one writer."""

    CONFIG = "config.json"
    LOG = "metrics.jsonl"
    EPOCH_LOG = "epoch_metrics.jsonl"
    EVALUATION = "metrics.json"
    LATENT_DIR = "latent"
    LATENT = "latent/latent.json"
    SAMPLES = "samples"
    CHECKPOINTS = "checkpoints"
    LOSS_PLOT = "loss.png"
    TENSORBOARD = "tensorboard"
    LOCK = ".lock"
    OUTCOME = "outcome.json"  # written when a scorecard's run ended without a result: it diverged
    DIVERGED = "diverged"  # the outcome of a run whose losses or weights stopped being finite numbers
    MANIFEST = MANIFEST
    OWN = (CONFIG, LOG, EPOCH_LOG, EVALUATION, LATENT_DIR, SAMPLES, CHECKPOINTS, LOSS_PLOT, TENSORBOARD, LOCK,
           OUTCOME, MANIFEST)
    FILES = (CONFIG, LOG, EPOCH_LOG, EVALUATION, LATENT, LOSS_PLOT, LOCK, OUTCOME, MANIFEST)

    def __init__(self, path: Path | str, trusted: bool = True) -> None:
        self.path, self.trusted = Path(path), trusted
        self.root = RecordedRoot(self.path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        """The absolute path of one of the folder's files (a name of this class, or 'samples/epoch_001.png')."""
        return self.path / name

    @property
    def last_checkpoint(self) -> Path:
        return self.path / self.CHECKPOINTS / "last.pt"

    @staticmethod
    def epoch_grid(epoch: int) -> str:
        return f"samples/epoch_{epoch:03d}.png"

    @staticmethod
    def step_grid(step: int) -> str:
        return f"samples/step_{step:06d}.png"

    @staticmethod
    def latent_grid(value: float | None) -> str:
        """impl.latent's grid of one value ('latent/value_10.png'), or of the unchanged vectors (None)."""
        return "latent/base.png" if value is None else f"latent/value_{value:g}.png"

    @classmethod
    def looks_like_run(cls, folder: Path) -> bool:
        """Whether `folder` is a gan-spec run: config.json beside samples/, or a config.json naming an experiment
        and its recipe (used to leave runs written into a data folder out of the data)."""
        config = folder / cls.CONFIG
        if not config.is_file():
            return False
        if (folder / cls.SAMPLES).is_dir():
            return True
        found = RunFolder(folder, trusted=False).optional(cls.CONFIG)[0]
        return found is not None and "experiment" in found and "recipe" in found

    # ------------------------------------------------------------------ reading
    def _bytes(self, name: str) -> bytes:
        return read_regular(self.path / name)

    def read_json(self, name: str) -> object:
        """A JSON file's value; RunError (one line naming the file) when it is missing or cannot be parsed."""
        path = self.path / name
        try:
            raw = self._bytes(name)
        except FileNotFoundError:
            raise RunError(f"{text(path)}: missing; pass a run folder made by impl.train") from None
        except IsADirectoryError:
            raise RunError(f"{text(path)}: is a folder, not a file; the run folder is damaged") from None
        except OSError as exc:
            raise RunError(f"{text(path)}: cannot be read ({exc.strerror or type(exc).__name__})") from None
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):
            raise RunError(f"{text(path)}: not valid JSON; the run folder is damaged") from None

    def config(self) -> dict[str, Any]:
        """config.json as a dict. Strict (our own folder): the keys every reader relies on are checked too."""
        if not self.path.is_dir():
            raise RunError(f"{text(self.path)}: not a folder; pass a run folder made by impl.train")
        config = self.read_json(self.CONFIG)
        path = text(self.path / self.CONFIG)
        if not isinstance(config, dict):
            if not self.trusted:
                raise RunError(f"{path}: a JSON {kind(config)}, not a gan-spec config (an object); pass a run folder "
                               "made by impl.train")
            raise RunError(f"{path}: holds {kind(config)}, not an object; the run folder is damaged")
        if self.trusted:
            for key, want in CONFIG_KEYS.items():
                if not isinstance(config.get(key), want) or isinstance(config.get(key), bool):
                    raise RunError(f"{path}: {key!r} missing or not {want.__name__}; the run folder is damaged or "
                                   "was made by another gan-spec version")
            for key in OPTIONAL_TABLES:
                if key in config and not isinstance(config[key], dict):
                    raise RunError(f"{path}: {key!r} holds {kind(config[key])}, not an object; the run folder is "
                                   "damaged")
            if not 1 <= config["total_steps"] <= MAX_STEPS:
                raise RunError(f"{path}: total_steps {config['total_steps']} is outside 1 to {MAX_STEPS:,}; the run "
                               "folder is damaged")
        return config

    def optional(self, name: str) -> tuple[dict[str, Any] | None, str]:
        """An optional JSON object (metrics.json, latent.json): (the object, '') or (None, why it is left out;
        '' when the file is simply not there)."""
        path = self.path / name
        if not path.exists() and not path.is_symlink():
            return None, ""
        try:
            value = self.read_json(name)
        except RunError as exc:
            return None, f"{exc}; left out"
        if not isinstance(value, dict):
            return None, f"{text(name)}: a JSON {kind(value)}, not an object; left out"
        return value, ""

    def rows(self, name: str) -> list[dict[str, Any]]:
        """The objects of a JSON-lines file of the folder (metrics.jsonl, epoch_metrics.jsonl); [] when missing."""
        try:
            return json_lines(self._bytes(name))
        except OSError:
            return []
        except Unsafe:
            if self.trusted:
                raise
            return []

    def log(self) -> list[dict[str, Any]]:
        return self.rows(self.LOG)

    def evaluation(self) -> dict[str, Any] | None:
        return self.optional(self.EVALUATION)[0]

    def latent(self) -> dict[str, Any] | None:
        return self.optional(self.LATENT)[0]

    def grids(self, pattern: str = "*.png") -> list[Path]:
        return sorted((self.path / self.SAMPLES).glob(pattern))

    def on_fashion(self) -> bool:
        """Whether the run trained on FashionMNIST (native or the 64x64 stand-in): the kind of data its run recipe
        saved (runs made before recipes were saved: the start of its data's description)."""
        try:
            config = self.config()
        except Unsafe:  # a FIFO or a device at config.json is named, not read as 'not FashionMNIST'
            raise
        except RunError:
            return False
        recipe = config.get("run_recipe")
        if isinstance(recipe, dict) and isinstance(recipe.get("data"), dict):
            return bool(recipe["data"].get("kind") == DataKind.FASHION_MNIST.value)  # JSON: a str or nothing
        return str(config.get("data", "")).startswith("FashionMNIST")

    def outcome(self) -> dict[str, Any]:
        """How a scorecard's run ended when it ended without a result ({} when it has a result or is running)."""
        return self.optional(self.OUTCOME)[0] or {}

    def write_outcome(self, outcome: str, reason: str) -> None:
        """Record that the run ended without a result (a scorecard reads it as an outcome, e.g. 'diverged')."""
        self.write_json(self.OUTCOME, {"outcome": outcome, "reason": reason})

    def finished(self) -> bool:
        """Trained to its last step (its log ends at the total its config.json plans), or ended as an outcome."""
        if self.outcome():
            return True
        try:
            total = self.config()["total_steps"]
        except RunError:
            return False
        rows = self.log()
        return bool(rows) and rows[-1].get("step") == total

    def has_checkpoint(self) -> bool:
        folder = self.path / self.CHECKPOINTS
        return folder.is_dir() and not folder.is_symlink() and any(folder.glob("*.pt"))

    # ------------------------------------------------------------------ writing
    def write_json(self, name: str, data: dict[str, Any]) -> Path:
        """Write one of the folder's JSON files atomically (a reader never sees half a file)."""
        return self.root.write_json(name, data)

    def append_row(self, name: str, row: dict[str, Any]) -> None:
        """Append one row to a JSON-lines file; a line cut short by a kill is ended first."""
        self.root.append(name, (json.dumps(row) + "\n").encode())

    def write_config(self, data: dict[str, Any]) -> Path:
        return self.write_json(self.CONFIG, data)

    def write_evaluation(self, data: dict[str, Any]) -> Path:
        return self.write_json(self.EVALUATION, data)

    @staticmethod
    def default_path(experiment: str, parent: Path = Path("runs")) -> Path:
        """runs/<experiment>-<timestamp>, checked like --out; named only (a torchrun's processes name the same one):
        `create` makes it exclusively, numbered when another run started in the same second took it."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, n = parent / f"{experiment}-{stamp}", 2
        while path.exists():
            path, n = parent / f"{experiment}-{stamp}-{n}", n + 1
        NUMBERED.add(RunFolder.check_new(path, flag="runs/"))
        return path

    @staticmethod
    def _make_numbered(path: Path) -> Path:
        """Make a default run folder with mkdir (one process wins): taken meanwhile, the next number is made."""
        name, n = path, 2
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            try:
                name.mkdir()
                return name
            except FileExistsError:
                name, n = path.with_name(f"{path.name}-{n}"), n + 1

    @staticmethod
    def check_new(path: Path, flag: str = "--out") -> Path:
        """`path` if a new run folder can be made there: not a file, nothing in it, and a parent one may write in;
        else one RunError line (before any work)."""
        blocker = file_in_the_way(path)
        if blocker is not None:
            raise RunError(f"{flag} {path}: {blocker} is a file, not a folder; choose another {flag}")
        if path.is_symlink() or (path.is_dir() and any(path.iterdir())):
            raise RunError(f"{path}: already holds files; continue it with --resume {path} or choose another {flag}")
        existing = next(p for p in (path, *path.parents) if p.exists() or p == Path(p.anchor or "."))
        if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
            raise RunError(f"{flag} {path}: {existing} is not writable; choose another {flag}")
        return path

    @classmethod
    def create(cls, path: Path) -> RunFolder:
        """Make a new run folder at a path check_new accepted (checked again: another process may have been first)."""
        try:
            path = cls._make_numbered(path) if path in NUMBERED else path
            run = cls(cls.check_new(path))
            run.root.mkdir(cls.SAMPLES)
            run.root.mkdir(cls.CHECKPOINTS)
        except OSError as exc:
            raise RunError(f"{path}: cannot create the run folder ({exc.strerror or exc}); choose another --out"
                           ) from None
        return run

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the folder for one training process: a second process that tries to train in it (two resumes of
        the same run, a resume of a run still training) is refused, naming the first."""
        holder = f"process {os.getpid()} ({' '.join(sys.argv[:3])}, since {time.strftime('%H:%M:%S')})"
        try:
            with self.root.locked(self.LOCK, holder):
                clean_leftovers(self.path, since=time.time())  # only a killed process leaves them: we hold the lock
                yield
        except OSError as exc:
            raise RunError(f"{self.path}: cannot write its lock file ({exc.strerror or exc}); check the folder"
                           ) from None

    def refuse_links(self) -> None:
        """Before a command writes into the run: none of its own names (config.json, .lock, checkpoints/ and what is
        in it, samples/..., latent/...) may be a symbolic link, and each file name must be a regular file (not a
        FIFO, a device or a folder) on the run's file system; else Unsafe, one line naming it (exit 2)."""
        names = list(self.OWN)
        for sub in (self.SAMPLES, self.CHECKPOINTS, self.LATENT_DIR):
            folder = self.path / sub
            if folder.is_dir() and not folder.is_symlink():
                names += [f"{sub}/{p.name}" for p in folder.iterdir()]
        self.root.refuse_links(names)
        device = os.lstat(self.path).st_dev
        for name in [*self.FILES, *(n for n in names if n.endswith((".pt", ".png")))]:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                check_file(os.lstat(self.path / name), self.path / name, device)

    def drop_checkpoints(self) -> None:
        """Delete the run's checkpoints once it is evaluated (a smoke run's weights are not worth their space)."""
        if self.file(self.CHECKPOINTS).exists():
            self.root.rmtree(self.CHECKPOINTS)

    def discard(self) -> None:
        """Delete a run that stopped before its first checkpoint by its record (impl/runs/manifest.py): anything
        else anywhere in it (a user's file, a link, a mount) is refused in one line and nothing is deleted."""
        if not self.path.exists() and not self.path.is_symlink():
            return
        if self.path.is_symlink() or not self.path.is_dir():
            raise RunError(f"{self.path}: a link or a file where a run folder belongs; move it away, then resume")
        for name in (self.EVALUATION, self.LATENT):
            if self.file(name).exists():
                raise RunError(f"{self.path}: holds {name} but no checkpoint to continue from; gan-spec never deletes "
                               "an evaluated run: move it away (or restore its checkpoints/), then resume")
        delete_recorded(self.path)
