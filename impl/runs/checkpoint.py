"""Checkpoints: writing them so that a kill at any moment leaves one loadable, reading them safely, and checking that
they belong to the networks the spec builds now.

A checkpoint is written to a temporary file, fsynced and renamed to `checkpoints/last.pt`, the previous one kept as
`prev.pt`. It holds tensors and plain containers only and is read with `torch.load(weights_only=True)`: a shared
checkpoint cannot run code. It records each network's signature (module types, arguments and forward order), so a
spec edited since the run cannot silently load its weights into another network.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

import spec
from impl.core.errors import NonFinite, RunError
from impl.core.files import Unsafe, check_file, open_regular, write_failure
from impl.networks.build import SpecNet, build_spec
from impl.runs.folder import RunFolder

CHECKPOINT_FORMAT = 1
IMPLEMENTATION_FLAGS = ("capturable", "fused", "foreach")


def save_checkpoint(run: RunFolder, state: dict[str, Any], keep: str | None = None) -> Path:
    """Atomically write checkpoints/last.pt, keeping the previous one as prev.pt (and a copy named `keep` when
    given); on failure (a full disk, a read-only folder) the temporary file is removed and the error names the
    checkpoint that is intact."""
    last = run.last_checkpoint
    try:
        with run.root.replacing(f"{RunFolder.CHECKPOINTS}/last.pt.new") as fh:
            torch.save({"format": CHECKPOINT_FORMAT, **state}, fh)
        if keep:
            with run.root.replacing(f"{RunFolder.CHECKPOINTS}/{keep}") as fh:
                torch.save({"format": CHECKPOINT_FORMAT, **state}, fh)
        run.root.rename(f"{RunFolder.CHECKPOINTS}/last.pt", "prev.pt")
        run.root.rename(f"{RunFolder.CHECKPOINTS}/last.pt.new", "last.pt")
    except Unsafe:
        raise
    except OSError as exc:
        kept = "last.pt" if last.exists() else "prev.pt" if last.with_name("prev.pt").exists() else "no checkpoint"
        cause, fix = write_failure(exc)
        raise RunError(f"{last}: cannot write checkpoint ({cause}); {kept} is intact; {fix} and resume") from None
    return last


def load_checkpoint(run: RunFolder | Path, device: str = "cpu", name: str | None = None
                    ) -> tuple[dict[str, Any], str]:
    """The newest loadable checkpoint of a run (or the one `name`d: 'prev.pt', 'epoch_005.pt') and a note if an
    older one had to be used."""
    run = run if isinstance(run, RunFolder) else RunFolder(run)
    folder = run.file(RunFolder.CHECKPOINTS)
    if name is not None and (name != Path(name).name or not name.endswith(".pt")):
        raise RunError(f"--checkpoint {name}: name a file of {folder} (last.pt, prev.pt, epoch_NNN.pt)")
    if name is not None:
        try:
            check_file(os.lstat(folder / name), f"--checkpoint {name} ({folder / name})")
        except FileNotFoundError:
            kept = ", ".join(sorted(p.name for p in folder.glob("*.pt") if p.is_file() and not p.is_symlink()))
            raise RunError(f"--checkpoint {name}: no such checkpoint in {folder} (it has: {kept or 'none'})") from None
        except NotADirectoryError:
            raise RunError(f"--checkpoint {name}: {folder} is not a folder; the run is damaged") from None
    problems = []
    for candidate in [name] if name else ("last.pt", "prev.pt"):
        path = folder / candidate
        if not path.exists() and not path.is_symlink():
            problems.append(f"{candidate} missing")
            continue
        try:
            with os.fdopen(open_regular(path), "rb") as fh:
                state = torch.load(fh, map_location=device, weights_only=True)
        except Unsafe as exc:  # a FIFO, a device or a folder at the name: never waited on
            problems.append(f"{candidate} {str(exc).split(': ', 1)[-1].split(';')[0]}")
            continue
        except Exception as exc:  # truncated zip, pickle refused by weights_only, ...
            problems.append(f"{candidate} unreadable ({type(exc).__name__})")
            continue
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            problems.append(f"{candidate} is not a gan-spec checkpoint")
            continue
        return state, ("" if candidate == "last.pt" or not problems else f"using {candidate}: {'; '.join(problems)}")
    raise RunError(f"{folder}: no usable checkpoint ({'; '.join(problems)}); start a new run")


def snapshot(state: Any) -> Any:
    """A copy of a checkpoint's state on the CPU, cut off from the live tensors that training goes on changing."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: snapshot(v) for k, v in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(snapshot(v) for v in state)
    return state


def network_signature(net: SpecNet) -> dict[str, str]:
    """Module path -> 'Type(args)' plus the forward order: what a checkpoint's weights depend on."""
    sig = {m.path: f"{m.type}({json.dumps(m.args, sort_keys=True)})" for m in net.spec.modules}
    sig["<forward>"] = " ".join(s.label for s in net.spec.forward)
    return sig


def signature_difference(saved: dict[str, dict[str, str]], current: dict[str, dict[str, str]]) -> str:
    """The first difference between two runs' network signatures, in words ('' if none)."""
    for role in current:
        a, b = saved.get(role) or {}, current[role]
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return (f"{role} module {key!r}: checkpoint has {a.get(key, 'nothing')}, "
                        f"spec now has {b.get(key, 'nothing')}")
    return ""


def check_networks(state: dict[str, Any], run: RunFolder | Path, experiment: str, nets: dict[str, SpecNet]) -> None:
    """Refuse a checkpoint of another experiment, or one whose networks the spec no longer builds."""
    if state.get("experiment") != experiment:
        raise RunError(f"{run}: checkpoint is of {state.get('experiment')!r}, config says {experiment}; "
                       "damaged run")
    saved = state.get("networks")
    if not isinstance(saved, dict):
        raise RunError(f"{run}: the checkpoint records no network signature; it is not a gan-spec checkpoint")
    diff = signature_difference(saved, {role: network_signature(net) for role, net in nets.items()})
    if diff:
        raise RunError(f"{run}: the networks changed since this run started ({diff}); retrain, or check out the "
                       "gan-spec version that made the run")


def experiment_of_run(state: dict[str, Any], run: RunFolder | Path) -> spec.ExperimentSpec:
    name = state.get("experiment")
    reg = spec.registry()
    if name not in reg.experiments:
        raise RunError(f"{run}: made by experiment {name!r}, which this gan-spec no longer has"
                       f"{spec.fields.closest(str(name), reg.names('experiment'))}; use the version that made it")
    return reg.experiments[name]


def load_generator(run: RunFolder | Path, checkpoint: str | None = None) -> tuple[SpecNet, dict[str, Any]]:
    """The generator of a run's newest loadable checkpoint (or the one named), in eval mode, and the checkpoint;
    refused when the run's experiment is gone or its generator is not the network the spec builds now."""
    state, _ = load_checkpoint(run, name=checkpoint)
    exp = experiment_of_run(state, run)
    g = build_spec(spec.registry().networks[exp.generator.value])
    check_networks(state, run, exp.name, {"G": g})
    if not isinstance(state.get("G"), dict):
        raise RunError(f"{run}: the checkpoint holds no generator weights; it is damaged")
    try:
        g.load_state_dict(state["G"])
    except (RuntimeError, TypeError) as exc:  # missing, unexpected or mis-shaped tensors
        raise RunError(f"{run}: the checkpoint's generator does not fit {exp.generator.value} "
                       f"({str(exc).splitlines()[0][:120]}); the run is damaged") from None
    bad = [k for k, v in g.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise NonFinite(f"{run}: the checkpoint's generator holds NaN or infinite values ({bad[0]}); the run diverged "
                       "or the file is damaged: use an earlier checkpoint (--checkpoint prev.pt)")
    return g.eval(), state


def load_optimizer(opt: torch.optim.Optimizer, saved: dict[str, Any]) -> None:
    """Load an optimizer's state but keep this run's implementation flags: torch's load_state_dict takes the
    checkpoint's (a GPU run's capturable=True would break a resume on the CPU, a CPU run's False a capture
    on the GPU). Step counters go where the flags want them: on the parameter's device when capturable or
    fused, else on the CPU (no host sync to read them)."""
    flags = [{k: g[k] for k in IMPLEMENTATION_FLAGS if k in g} for g in opt.param_groups]
    opt.load_state_dict(saved)
    for group, own in zip(opt.param_groups, flags):
        group.update(own)
        on_device = group.get("capturable") or group.get("fused")
        for p in group["params"]:
            state = opt.state.get(p, {})
            if isinstance(state.get("step"), torch.Tensor):
                state["step"] = state["step"].to(p.device if on_device else "cpu", torch.float32)
