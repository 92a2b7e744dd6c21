"""Train an experiment from spec/ as its report documents it.

    python -m impl.train r004-mlp                      # report 004's MLP GAN on FashionMNIST, 3 epochs
    python -m impl.train r000-dcgan --data faces/      # the anime-face set, 51 epochs at batch 64
    python -m impl.train r003-wgan --data fashion-mnist --epochs 5
    python -m impl.train --resume runs/r004-mlp-20261123-101500
    python -m impl.train r001-wgan --data synthetic --dry-run

Exit codes: 0 done, 2 bad input (spec, data, arguments, run directory), 3 the run failed (non-finite loss,
out of memory, disk full; the last good checkpoint is kept), 128+signal when interrupted (checkpoint saved).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

import torch
from tqdm import tqdm

import spec
from impl import rundir
from impl.data import DataError, for_experiment
from impl.fastpath import autotune
from impl.rundir import RunError
from impl.trainer import STATS, Settings, Trainer, network_signature, signature_difference
from spec.experiment import ExperimentSpec


class RunFailed(RuntimeError):
    """Training started but cannot go on (exit 3); the message says what happened and what was kept."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m impl.train", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments and exit")
    p.add_argument("--epochs", type=int, help="override the documented number of epochs")
    p.add_argument("--steps", type=int, help="stop after this many steps (batches) in total")
    p.add_argument("--batch-size", type=int, help="override the documented batch size")
    p.add_argument("--data", help="folder of images, folder of FashionMNIST IDX files, 'fashion-mnist' or 'synthetic'")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="default: cuda if available")
    p.add_argument("--out", help="run directory to create (default runs/<experiment>-<timestamp>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log-every", type=int, default=50, help="steps between metrics lines (default 50)")
    p.add_argument("--dry-run", action="store_true", help="a few small steps in a temporary directory, kept nowhere")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--precision", choices=("fp32", "bf16"),
                   help="bf16: forward passes under bfloat16 autocast (default: bf16 on the CUDA fast path, else fp32)")
    p.add_argument("--channels-last", action="store_true", help="NHWC memory layout (default on the CUDA fast path)")
    p.add_argument("--eager", action="store_true", help="on CUDA: no fast path (no CUDA graphs, fused optimizers, "
                   "bf16 or channels_last unless asked for): the plain PyTorch loop, for comparison and debugging")
    p.add_argument("--compile", action="store_true", help="torch.compile the networks' training calls: fused "
                   "kernels after a compile of a minute or more at the start (not WGAN-GP's critic)")
    p.add_argument("--sync-bn", action="store_true", help="under torchrun: batch-norm statistics over all processes")
    args = p.parse_args(argv)
    for name in ("epochs", "steps", "batch_size", "log_every"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def resolve_device(requested: str) -> str:
    if requested == "cuda" and not torch.cuda.is_available():
        raise DataError("--device cuda: no CUDA GPU is visible to PyTorch; use --device cpu or --device auto")
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def experiment_of(name: str | None) -> ExperimentSpec:
    if not name:
        raise spec.SpecError("name an experiment (python -m impl.train --list shows them) or pass --resume RUN_DIR")
    exp = spec.load(name)
    if not isinstance(exp, ExperimentSpec):
        raise spec.SpecError(f"{name!r} is a network, not an experiment; "
                             "`python -m impl.train --list` shows experiments")
    return exp


class StopFlag:
    """SIGINT / SIGTERM ask the loop to stop at the end of the current step, save and exit."""

    def __init__(self) -> None:
        self.signum = 0

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        if self.signum:  # a second Ctrl-C: the user insists
            raise KeyboardInterrupt
        self.signum = signum


def diverged(run: Path | None, bad: int, values: dict[str, float]) -> RunFailed:
    saved = None
    if run is not None and (run / "checkpoints/last.pt").exists():
        saved = rundir.load_checkpoint(run)[0]["step"]
    kept = f"last good checkpoint at step {saved}" if saved is not None else "no checkpoint yet"
    where = f" in {run / 'checkpoints'}" if run is not None else ""
    return RunFailed(f"non-finite loss at step {bad + 1} (averages now {values}); stopped; {kept}{where}; "
                     "try a lower learning rate")


def train_loop(trainer: Trainer, run: Path | None, quiet: bool) -> int:
    """Train to the end, logging every `log_every` steps. `run` is None on processes other than rank 0:
    they train but write nothing. Under torchrun every decision (log, stop, diverged) is taken at the same
    logging step on all processes, from values reduced over them."""
    stop = StopFlag()
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    settings, spe, distributed = trainer.settings, trainer.steps_per_epoch, trainer.world_size > 1
    t0 = time.perf_counter()
    epochs_total = -(-trainer.total_steps // spe)
    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", disable=quiet or run is None,
               dynamic_ncols=True, desc=trainer.exp.name)
    writer = rundir.BackgroundWriter()  # epoch-end files are written while the next epoch trains
    try:
        while trainer.step < trainer.total_steps:
            trainer.advance(min(trainer.total_steps, trainer.step - trainer.pending + settings.log_every))
            epoch_done = trainer.step % spe == 0
            if not (trainer.pending >= settings.log_every or epoch_done or trainer.step == trainer.total_steps
                    or (stop.signum and not distributed)):
                continue
            means, count = trainer.read_stats()
            means = trainer.reduce_mean(means)
            flags = torch.stack([torch.tensor(stop.signum, device=trainer.device), trainer.first_bad_step])
            if distributed:
                torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
            values = dict(zip(STATS, means.tolist()))  # the only host sync
            # the agreed stop, kept apart from stop.signum: a process whose own signal comes after the agreement
            # (torchrun signals its workers one by one) must not take it for a second Ctrl-C
            stopping, bad = (int(v) for v in flags.tolist())
            if bad >= 0:
                writer.flush()  # the last good checkpoint is the one the message names
                raise diverged(run, bad, values)
            writer.check()  # a failed epoch write (full disk) stops the run now, not an epoch later
            row = {"experiment": trainer.exp.name, "step": trainer.step, "epoch": trainer.step / spe, **values,
                   "images_per_s": count * settings.batch_size / max(time.perf_counter() - t0, 1e-9)}
            if trainer.exp.loss.value in ("wgan", "wgan-gp"):
                row["wasserstein"] = values["d_real"] - values["d_fake"]
            bar.update(count)
            bar.set_postfix_str(f"epoch {trainer.epoch}/{epochs_total} d {values['d_loss']:.3f} "
                                f"g {values['g_loss']:.3f} {row['images_per_s']:,.0f} img/s")
            t0 = time.perf_counter()
            if run is None:
                if stopping:
                    return 128 + stopping
                continue
            rundir.append_metrics(run, row)
            if epoch_done:
                writer.flush()  # the previous epoch's files, which had a whole epoch to finish: one epoch in flight
                writer.submit(rundir.write_epoch, run, trainer.samples(), rundir.snapshot(trainer.state_dict()),
                              run / "samples" / f"epoch_{trainer.epoch:03d}.png")
            if stopping:
                writer.flush()
                rundir.save_checkpoint(run, trainer.state_dict())
                bar.close()
                print(f"\ninterrupted ({signal.Signals(stopping).name}) at step {trainer.step}; checkpoint saved; "
                      f"continue with: python -m impl.train --resume {run}", file=sys.stderr)
                return 128 + stopping
        if run is not None:
            writer.flush()
            if trainer.step % spe:  # stopped inside an epoch by --steps: keep what it made
                rundir.save_grid(trainer.samples(), run / "samples" / f"step_{trainer.step:06d}.png")
                rundir.save_checkpoint(run, trainer.state_dict())
            rundir.plot_losses(run)
        return 0
    except RunError as exc:  # a checkpoint could not be written (disk full): the previous one is intact
        raise RunFailed(str(exc)) from None
    except OSError as exc:  # metrics.jsonl or a last grid could not be written
        raise RunFailed(f"{run}: cannot write {Path(exc.filename or 'a file').name} ({exc.strerror or exc}); "
                        "the last checkpoint is intact; free disk space and resume") from None
    except torch.OutOfMemoryError:
        raise RunFailed(f"out of GPU memory at batch size {settings.batch_size}; the last checkpoint "
                        f"{'in ' + str(run / 'checkpoints') + ' ' if run else ''}is intact; "
                        "pass a smaller --batch-size") from None
    finally:
        bar.close()
        for s, handler in old.items():  # first: a Ctrl-C during the wait below must not leave StopFlag installed
            signal.signal(s, handler)
        writer.close()


def setup_distributed(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) under torchrun; (0, 1, device) otherwise."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return torch.distributed.get_rank(), world, device


def resolve(args: argparse.Namespace, device: str) -> tuple[ExperimentSpec, Settings, str | None]:
    """The experiment, its settings and the --data value: from the command line, or from the run to resume."""
    if args.resume:
        config = rundir.read_config(Path(args.resume))
        if args.experiment and args.experiment != config["experiment"]:
            raise RunError(f"{args.resume} is a run of {config['experiment']}, not {args.experiment}; "
                           f"drop the experiment name or start a new run")
        settings = Settings(**{**config["settings"], "device": device})
        settings.epochs = args.epochs or settings.epochs
        settings.max_steps = args.steps or settings.max_steps
        settings.compile = args.compile or settings.compile
        data = args.data or config.get("overrides", {}).get("data")  # a moved data folder can be named again
        return experiment_of(config["experiment"]), settings, data
    exp = experiment_of(args.experiment)
    fast = device.startswith("cuda") and not args.eager  # the fast path: on by default on a GPU
    settings = Settings(experiment=exp.name, batch_size=args.batch_size or exp.batch_size.value,
                        epochs=args.epochs or exp.epochs.value, max_steps=args.steps, seed=args.seed,
                        device=device, log_every=args.log_every,
                        precision=args.precision or ("bf16" if fast else "fp32"),
                        channels_last=args.channels_last or fast, graph=fast, compile=args.compile)
    if args.dry_run:
        settings.batch_size = min(settings.batch_size, 8)
        settings.max_steps = 2 * (exp.n_critic.value if exp.n_critic else 1)
        settings.log_every = 1
    return exp, settings, args.data


def resume_into(trainer: Trainer, run_dir: Path) -> None:
    state, note = rundir.load_checkpoint(run_dir, str(trainer.device))
    if state["experiment"] != trainer.exp.name:
        raise RunError(f"{run_dir}: checkpoint is of {state['experiment']}, config says {trainer.exp.name}; "
                       "damaged run")
    diff = signature_difference(state["networks"], {"G": network_signature(trainer.G),
                                                    "D": network_signature(trainer.D)})
    if diff:
        raise RunError(f"{run_dir}: the networks changed since this run started ({diff}); start a new run")
    trainer.load_state_dict(state)
    if trainer.rank == 0:
        print(f"resuming {trainer.exp.name} at step {trainer.step} of {trainer.total_steps}"
              + (f" ({note})" if note else ""), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    rank, world, device = setup_distributed(resolve_device(args.device))
    exp, settings, data_arg = resolve(args, device)
    autotune(settings.graph and device.startswith("cuda"))
    reg = spec.registry()
    data = for_experiment(exp.dataset.value, data_arg, reg.networks[exp.discriminator.value].input,
                          reg.datasets[exp.dataset.value].how, progress=not args.quiet and rank == 0, device=device)
    if data.skipped and rank == 0:
        print(f"note: left out {sum(data.skipped.values())} files of {data_arg}: "
              + ", ".join(f"{n} {why}" for why, n in data.skipped.items()), file=sys.stderr)
    trainer = Trainer(exp, data.images, settings, rank=rank, world_size=world, sync_bn=args.sync_bn)
    if rank == 0 and device.startswith("cuda") and not args.quiet:
        print(trainer.speed_summary() + ("; --eager for the plain PyTorch loop" if settings.graph else ""),
              file=sys.stderr)
    run_dir: Path | None = None
    if args.resume:
        resume_into(trainer, Path(args.resume))
        run_dir = Path(args.resume) if rank == 0 else None
        if run_dir is not None:
            rundir.record_resume(run_dir, settings, trainer, args)
    elif rank == 0:
        run_dir = Path(tempfile.mkdtemp(prefix=f"gan-spec-dry-{exp.name}-")) if args.dry_run \
            else rundir.new_run_dir(exp.name, args.out)
        config = rundir.config_of(exp, settings, trainer, data.description, args)
        rundir.write_json(run_dir / "config.json", config | {"processes": world})
    try:
        code = train_loop(trainer, run_dir, args.quiet or args.dry_run)
        if world > 1:
            # finished or interrupted, every process decided it at the same step; wait until all are past their last
            # collective and the first has written its files before any tears the process group down: a gloo peer
            # that disconnects mid-exchange can abort the other one
            torch.distributed.barrier()
        if code or run_dir is None:
            return code
        if args.dry_run:
            last = rundir.read_metrics(run_dir)[-1]
            print(f"dry run ok: {exp.name}, {trainer.step} steps at batch {settings.batch_size} on {device}, "
                  f"d_loss {last['d_loss']:.4f}, g_loss {last['g_loss']:.4f}; data: {data.description}")
        else:
            print(f"done: {exp.name}, {trainer.step} steps; {run_dir}/ has config.json, metrics.jsonl, loss.png, "
                  f"samples/ ({len(list((run_dir / 'samples').glob('*.png')))} grids), checkpoints/last.pt")
        return 0
    finally:
        if args.dry_run and not args.resume and run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.list:
            for name in spec.names("experiment"):
                print(f"{name:16} {spec.load(name).title}")
            return 0
        return run(args)
    except (spec.SpecError, DataError, RunError) as exc:
        report(exc)
        return 2
    except RunFailed as exc:
        report(exc)
        return 3
    except KeyboardInterrupt:
        print("\ninterrupted twice; stopped without saving (the last checkpoint is intact)", file=sys.stderr)
        return 130
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def report(exc: Exception) -> None:
    """One error line; under torchrun only from the first process, so the user reads it once."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()) \
            or torch.distributed.get_rank() == 0:
        print(f"error: {exc}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
