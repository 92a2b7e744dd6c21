"""Hostile inputs over the classes of issue 31, run against a gan-spec source tree: good or bad, one line each.

    python -m tools.hostile                      # this checkout
    python -m tools.hostile --tree /tmp/base     # another checkout (e.g. `git archive a76c42a | tar -x -C /tmp/base`)

Each case prepares a folder (one small run trained once, copied per case), runs one gan-spec command in a
subprocess with a time limit and judges the outcome: good when the command ends in time, with its expected exit
code, one line and no traceback, and every victim file beside the folder keeps its bytes; bad otherwise (a hang,
a victim changed, an internal error, a false refusal, a message naming the wrong cause). The last line counts them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

Case = Callable[[Path, Path], tuple[bool, str]]  # (work folder, a fresh copy of the small run) -> (good, why)
CASES: dict[str, Case] = {}
TREE = Path(__file__).resolve().parents[1]


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn
    return register


def gan_spec(*args: str, cwd: Path | None = None, timeout: float = 120, interrupt_after: float | None = None,
             flag: str = "-m") -> tuple[int | None, str]:
    """(exit code or None when it hung, stderr) of `python -m <args>` (or `-c`) on TREE."""
    env = os.environ | {"PYTHONPATH": str(TREE)}
    proc = subprocess.Popen([sys.executable, flag, *args], cwd=cwd or TREE, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    if interrupt_after is not None:
        time.sleep(interrupt_after)
        proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return None, "hung"
    return (130 if proc.returncode == -signal.SIGINT else proc.returncode), err


def victim(work: Path) -> Path:
    path = work / "victim.txt"
    path.write_text("someone else's data\n" * 20)
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def clean(code: int | None, err: str, want: tuple[int, ...]) -> tuple[bool, str]:
    """Good when the exit code is one of `want`, with no traceback and no internal error."""
    if code is None:
        return False, "hung (killed after the time limit)"
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if "Traceback" in err or "bug in gan-spec" in err:
        return False, f"exit {code}: {last[:150]}"
    return code in want, f"exit {code}: {last[:150]}"


@case("hard link at .lock, then --resume")
def lock_link(work: Path, run: Path) -> tuple[bool, str]:
    file = victim(work)
    before = sha(file)
    (run / ".lock").unlink(missing_ok=True)
    os.link(file, run / ".lock")
    code, err = gan_spec("impl.train", "--resume", str(run), "--steps", "6", "--quiet")
    return (sha(file) == before and clean(code, err, (0, 2))[0]), clean(code, err, (0, 2))[1]


@case("cp -al snapshot, then --resume snap")
def snapshot(work: Path, run: Path) -> tuple[bool, str]:
    before = sha(run / "metrics.jsonl")
    subprocess.run(["cp", "-al", str(run), str(work / "snap")], check=True)
    code, err = gan_spec("impl.train", "--resume", str(work / "snap"), "--steps", "6", "--quiet")
    same = sha(run / "metrics.jsonl") == before
    return same and clean(code, err, (0, 2))[0], ("original untouched; " if same else "original changed; ") + \
        clean(code, err, (0, 2))[1]


def fifo_at(run: Path, name: str) -> None:
    (run / name).unlink(missing_ok=True)
    os.mkfifo(run / name)


@case("FIFO at config.json, impl.report")
def fifo_report(work: Path, run: Path) -> tuple[bool, str]:
    fifo_at(run, "config.json")
    return clean(*gan_spec("impl.report", str(run), "--out", str(work / "r.html"), timeout=40), (2,))


@case("FIFO at config.json, impl.evaluate")
def fifo_evaluate(work: Path, run: Path) -> tuple[bool, str]:
    fifo_at(run, "config.json")
    return clean(*gan_spec("impl.evaluate", str(run), "--n", "64", timeout=40), (2,))


@case("FIFO at checkpoints/last.pt, impl.sample")
def fifo_checkpoint(work: Path, run: Path) -> tuple[bool, str]:
    fifo_at(run, "checkpoints/last.pt")
    return clean(*gan_spec("impl.sample", str(run), "--out", str(work / "g.png"), timeout=40), (0, 2))


@case("FIFO at metrics.jsonl, --resume")
def fifo_log(work: Path, run: Path) -> tuple[bool, str]:
    fifo_at(run, "metrics.jsonl")
    code, err = gan_spec("impl.train", "--resume", str(run), "--steps", "6", "--quiet", timeout=60)
    good, why = clean(code, err, (2,))
    return good and "disk space" not in err, why


@case("FIFO named with --checkpoint")
def fifo_named(work: Path, run: Path) -> tuple[bool, str]:
    os.mkfifo(run / "checkpoints" / "fifo.pt")
    code, err = gan_spec("impl.sample", str(run), "--checkpoint", "fifo.pt", "--out", str(work / "g.png"), timeout=40)
    good, why = clean(code, err, (2,))
    return good and "FIFO" in err, why


@case("symlink named with --checkpoint")
def link_named(work: Path, run: Path) -> tuple[bool, str]:
    (run / "checkpoints" / "link.pt").symlink_to(victim(work))
    code, err = gan_spec("impl.sample", str(run), "--checkpoint", "link.pt", "--out", str(work / "g.png"))
    good, why = clean(code, err, (2,))
    return good and "symbolic link" in err, why


@case("impl.sample --out grid.png twice")
def sample_twice(work: Path, run: Path) -> tuple[bool, str]:
    gan_spec("impl.sample", str(run), "--out", str(work / "grid.png"))
    return clean(*gan_spec("impl.sample", str(run), "--out", str(work / "grid.png")), (0,))


@case("a 254-byte --out name")
def long_out(work: Path, run: Path) -> tuple[bool, str]:
    return clean(*gan_spec("impl.sample", str(run), "--out", str(work / ("x" * 250 + ".png"))), (0,))


@case("a folder at loss.png, then --resume")
def folder_at_plot(work: Path, run: Path) -> tuple[bool, str]:
    (run / "loss.png").unlink(missing_ok=True)
    (run / "loss.png").mkdir()
    code, err = gan_spec("impl.train", "--resume", str(run), "--steps", "6", "--quiet")
    good, why = clean(code, err, (2,))
    return good and "disk space" not in err, why


@case("reproduce --seeds 1000000000000")
def huge_seeds(work: Path, run: Path) -> tuple[bool, str]:
    return clean(*gan_spec("impl.reproduce", "004", "--seeds", "1000000000000", "--out", str(work / "s"),
                           timeout=60), (2,))


@case("tools.calibrate --pool 1")
def one_seed(work: Path, run: Path) -> tuple[bool, str]:
    code, err = gan_spec("tools.calibrate", "--pool", "1", "--harm-sets", "1", "--out", str(work / "c"), timeout=60)
    return clean(code, err, (2,))[0] and not (work / "c").exists(), clean(code, err, (2,))[1]


@case("benchmarks.report --batches 0")
def zero_batches(work: Path, run: Path) -> tuple[bool, str]:
    return clean(*gan_spec("benchmarks.report", "--experiments", "r004-mlp", "--batches", "0", "--steps", "1",
                           "--device", "cpu", timeout=60), (2,))


@case("a spec/ package in the working directory")
def shadow(work: Path, run: Path) -> tuple[bool, str]:
    (work / "spec").mkdir()
    (work / "spec" / "__init__.py").write_text("raise ImportError('the wrong spec')\n")
    return clean(*gan_spec("impl.claims", "003", cwd=work), (0,))


@case("Ctrl-C while importing")
def early_interrupt(work: Path, run: Path) -> tuple[bool, str]:
    code, err = gan_spec("impl.train", "--list", interrupt_after=0.5)
    return clean(code, err, (130,))[0] and err.strip().count("\n") == 0, clean(code, err, (130,))[1]


def python(code: str) -> tuple[int | None, str]:
    return gan_spec(code, timeout=60, flag="-c")


@case("discard with a user's file in samples/")
def discard_user_file(work: Path, run: Path) -> tuple[bool, str]:
    file = run / "samples" / "mine.txt"
    file.write_text("the user's\n")
    code, err = python(f"from impl.runs.folder import RunFolder; RunFolder({str(run)!r}).discard()")
    return file.exists() and code is not None, f"exit {code}; the user's file {'kept' if file.exists() else 'deleted'}"


@case("a kill's temporary file, then discard")
def discard_leftover(work: Path, run: Path) -> tuple[bool, str]:
    (run / ".config.json.0123abcd.tmp").write_bytes(b"left by a kill")
    return clean(*python(f"from impl.runs.folder import RunFolder; RunFolder({str(run)!r}).discard()"), (0,))


@case("two runs in the same second without --out")
def same_second(work: Path, run: Path) -> tuple[bool, str]:
    code = ("import time; from pathlib import Path; time.strftime = lambda *_: 'same'; "
            "from impl.runs.folder import RunFolder as R; "
            f"a, b = (R.default_path('x', Path({str(work / 'runs')!r})) for _ in 'ab'); "
            "assert R.create(a).path != R.create(b).path")
    return clean(*python(code), (0,))


def main(argv: list[str] | None = None) -> int:
    global TREE
    p = argparse.ArgumentParser(prog="python -m tools.hostile", description=__doc__.split("\n\n")[0])
    p.add_argument("--tree", type=Path, default=TREE, help="the gan-spec checkout to test (default: this one)")
    p.add_argument("-k", dest="only", default="", help="run the cases whose name contains this")
    args = p.parse_args(argv)
    TREE = args.tree.resolve()
    base = Path(tempfile.mkdtemp(prefix="gan-spec-hostile-"))
    try:
        small = base / "small"
        code, err = gan_spec("impl.train", "r004-mlp", "--data", "synthetic", "--steps", "4", "--batch-size", "32",
                             "--log-every", "2", "--out", str(small), "--quiet")
        if code != 0:
            print(f"error: the small run failed on {TREE}: {err.strip()[-300:]}", file=sys.stderr)
            return 1
        good = 0
        chosen = {k: v for k, v in CASES.items() if args.only in k}
        for i, (name, fn) in enumerate(chosen.items()):
            work = base / f"case{i}"
            work.mkdir()
            ok, why = fn(work, Path(shutil.copytree(small, work / "run", symlinks=True)))
            good += ok
            print(f"{'good' if ok else 'BAD '}  {name}: {why}", flush=True)
        print(f"{good} good, {len(chosen) - good} bad of {len(chosen)} on {TREE}")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
