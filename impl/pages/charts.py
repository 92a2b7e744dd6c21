"""What the report compares across runs: the loss curves of all runs overlaid in one chart, which direction of
each metric is better and which run is best in it, and the settings that make runs not comparable.

Charts are matplotlib Figures (no pyplot: no global state) encoded as PNG bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import spec
from impl.runs.untrusted import get, num, text
from spec.metrics import METRICS, better

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class Column:
    key: str  # in the run's summary row
    label: str
    hint: str = ""
    own: str | None = None  # the better direction of a column that is not a metric (images/s)

    @property
    def better(self) -> str | None:
        """'lower', 'higher' or None: a metric's from spec/metrics.py (the one home of directions)."""
        return self.own or better(self.key) or None

    @property
    def evaluated(self) -> bool:
        """A metric of impl.evaluate (spec/metrics.py), not a figure of training: its best is marked only among runs
        measured alike."""
        return self.key in METRICS

    @property
    def heading(self) -> str:
        return self.label + {"lower": " ↓", "higher": " ↑", None: ""}[self.better]


COLUMNS = (
    Column("steps", "steps", "steps logged (batches)"),
    Column("d_loss", "d_loss", "last logged D/critic loss; losses of different loss families do not compare"),
    Column("g_loss", "g_loss", "last logged generator loss"),
    Column("images_per_s", "images/s", "median training throughput over the logging intervals", own="higher"),
    Column("domain_fid", "domain FID", "Frechet distance in the FashionMNIST classifier's features"),
    Column("domain_kid", "domain KID", "kernel inception distance in the same features"),
    Column("inception_fid", "Inception FID", "with the Inception weights you supplied"),
    Column("inception_kid", "Inception KID", "with the Inception weights you supplied"),
    Column("classes_covered", "classes covered", "FashionMNIST classes with >= 1 % of the samples"),
    Column("kl_to_uniform", "KL to uniform", "of the class histogram; 0 = all classes equally often"),
    Column("diversity_ms_ssim", "diversity MS-SSIM", "mean MS-SSIM of random pairs; 1 = all alike"),
)
OPTIONAL = {"inception_fid", "inception_kid"}  # shown only when some run has them
DIFFERENCES = (("steps", ("total_steps",)), ("data", ("data",)), ("seed", ("settings", "seed")),
               ("device", ("settings", "device")), ("precision", ("settings", "precision")))


def image_size(config: dict[str, Any]) -> str:
    """'28x28' from the run's discriminator input (config.json's recipe, else its experiment's spec); '?' unknown."""
    reg = spec.registry()
    net = get(config, "recipe", "discriminator", "value")
    if not isinstance(net, str) or net not in reg.networks:
        exp = reg.experiments.get(text(get(config, "experiment")))
        net = exp.discriminator.value if exp is not None else None
    shape = reg.networks[net].input if net in reg.networks else None
    return "x".join(str(n) for n in shape[1:]) if shape else "?"


def measurement(config: dict[str, Any], evaluation: dict[str, Any]) -> tuple[str, ...]:
    """How a run's metrics.json numbers were measured, one text per name in MEASURED: runs compare only when all agree
    (FID falls as the sample count grows; 28 px and 64 px images, or two real sets, are different measurements)."""
    values = (evaluation.get("samples"), image_size(config), evaluation.get("real_set"),
              evaluation.get("real_samples"), get(config, "data"))
    return tuple(text(v) if v is not None else "?" for v in values)


MEASURED = ("samples", "image size", "real set", "real images", "data")


def best_alike(values: list[object], better: str | None, groups: list[tuple[str, ...]]) -> set[int]:
    """best_rows within each group of runs measured alike (the same `measurement`); a group of one has no best."""
    out: set[int] = set()
    for group in set(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        out |= {members[j] for j in best_rows([values[i] for i in members], better)}
    return out


def measured_differently(names: list[str], measurements: list[tuple[str, ...]]) -> list[str]:
    """'samples (a: 10000, b: 2000)' for each way in which the evaluated runs were measured differently."""
    out = []
    for k, label_ in enumerate(MEASURED):
        values = [m[k] for m in measurements]
        if len(set(values)) > 1:
            out.append(f"{label_} (" + ", ".join(f"{n}: {v}" for n, v in zip(names, values)) + ")")
    return out


def best_rows(values: list[object], better: str | None) -> set[int]:
    """Indices of the best runs in a column: none without a direction, fewer than two numbers, or all equal."""
    numbers = {i: n for i, v in enumerate(values) if (n := num(v)) is not None}
    if better is None or len(numbers) < 2 or len(set(numbers.values())) == 1:
        return set()
    target = (min if better == "lower" else max)(numbers.values())
    return {i for i, v in numbers.items() if v == target}


def settings(config: dict[str, Any]) -> dict[str, str]:
    """What a run was trained with, as text by name: the steps, data, seed, device and precision, then each --set
    value (`set lr`) that the rows above do not already name; '?' where config.json lacks it."""
    out = {}
    for name, keys in DIFFERENCES:
        value = get(config, *keys)
        out[name] = text(value) if value is not None else "?"
    raw = config.get("overrides")
    for key, entry in (raw.items() if isinstance(raw, dict) else []):
        if key not in ("steps", "data", "seed", "device", "precision"):
            value = entry.get("value") if isinstance(entry, dict) else entry
            out[f"set {text(key)}"] = text(value)
    return out


def differing(configs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The settings in which the runs differ, with each run's value ('-' where a run has no such --set); overrides
    first (the change a reader made on purpose), then seed, steps, precision, data and device."""
    each = [settings(config) for config in configs]
    names = list(dict.fromkeys(k for s in each for k in s))
    values = {k: [s.get(k, "-") for s in each] for k in names}
    order = sorted(names, key=lambda k: (not k.startswith("set "), ORDER.index(k) if k in ORDER else 0))
    return {k: values[k] for k in order if len(configs) > 1 and len(set(values[k])) > 1}


ORDER = ("seed", "steps", "precision", "data", "device")


def differences(names: list[str], configs: list[dict[str, Any]]) -> list[str]:
    """'steps (a: 48, b: 96)' for each setting (steps, data, seed, device, precision, each --set value) in which
    the runs' config.json differ."""
    return [f"{label} (" + ", ".join(f"{n}: {v}" for n, v in zip(names, values)) + ")"
            for label, values in differing(configs).items()]


def curves(rows: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the rows where both are finite numbers."""
    points = [(num(r.get("step")), num(r.get(key))) for r in rows]
    kept = [(s, v) for s, v in points if s is not None and v is not None]
    return [s for s, _ in kept], [v for _, v in kept]


def label(name: str, limit: int = 40) -> str:
    """A run name as matplotlib text: shortened, and its dollar signs escaped (else they start mathtext, which
    can fail to parse)."""
    name = text(name)
    name = name if len(name) <= limit else name[: limit - 1] + "…"
    return name.replace("$", r"\$")


OVERLAY_MAX = 10  # runs in one overlaid chart: one colour each from matplotlib's ten, none repeated
SHORT = 30  # a series with fewer points is drawn with markers (a single point is otherwise invisible)


def _draw_losses(ax: Axes, rows: list[dict[str, Any]], colours: tuple[str, str], name: str | None) -> float:
    """d_loss solid and g_loss dashed on `ax`; returns the largest |loss| drawn (0 when none)."""
    extreme = 0.0
    for key, style, who, colour in (("d_loss", "-", "D", colours[0]), ("g_loss", "--", "G", colours[1])):
        steps, values = curves(rows, key)
        if steps:
            ax.plot(steps, values, style, color=colour, label=f"{label(name)}: {who}" if name else who,
                    linewidth=1.4, marker="o" if len(steps) < SHORT else None, markersize=3)
            extreme = max(extreme, *(abs(v) for v in values))
    return extreme


def loss_overlay(series: list[tuple[str, list[dict[str, Any]]]]) -> Figure | None:
    """Every run's d_loss (solid) and g_loss (dashed) against steps; None when no run logged a loss. Up to
    OVERLAY_MAX runs share one chart, a colour per run; more get small multiples, one panel per run (a 33-run
    scorecard's overlay had a 66-entry legend and repeated colours). Short series carry markers. A y range beyond
    +-50 (WGAN critics, BCE's clamp at 100) is drawn symlog."""
    from matplotlib.figure import Figure

    series = [(name, rows) for name, rows in series if curves(rows, "d_loss")[0] or curves(rows, "g_loss")[0]]
    if not series:
        return None
    if len(series) > OVERLAY_MAX:
        return _small_multiples(series)
    fig = Figure(figsize=(11, 4.2))
    ax = fig.subplots()
    extreme = max(_draw_losses(ax, rows, (f"C{i}", f"C{i}"), name) for i, (name, rows) in enumerate(series))
    if extreme > 50:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel="step (batches)", ylabel="loss",
           title="losses of all runs (solid: discriminator / critic, dashed: generator)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def _small_multiples(series: list[tuple[str, list[dict[str, Any]]]]) -> Figure:
    """One small panel per run, titled with its name: D in blue, G in orange, one legend for all."""
    from matplotlib.figure import Figure

    cols = 6
    rows_n = -(-len(series) // cols)
    fig = Figure(figsize=(2.6 * cols, 2.0 * rows_n + 0.8))
    axes = fig.subplots(rows_n, cols, squeeze=False).flatten()
    for ax, (name, rows) in zip(axes, series):
        if _draw_losses(ax, rows, ("C0", "C1"), None) > 50:
            ax.set_yscale("symlog", linthresh=1.0)
        ax.set_title(label(name, 28), fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    for ax in axes[len(series):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, ["discriminator / critic", "generator"][:len(handles)], loc="upper right", fontsize=8)
    fig.suptitle(f"losses of {len(series)} runs, one panel each (x: step)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


SEED_STYLES = ("-", ":", "--", "-.")  # seed 0, 1, 2, 3 (then round again)


def series_chart(lines: list[tuple[str, int, list[float], list[float]]], xlabel: str, ylabel: str,
                 title: str) -> Figure | None:
    """A small chart of lines (arm, seed, xs, ys): a colour per arm, a line style per seed, each line named in the
    legend ('arm, seed 1'); None when no line has a point."""
    from matplotlib.figure import Figure

    lines = [line for line in lines if line[2]]
    if not lines:
        return None
    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    colours: dict[str, str] = {}
    for name, seed, xs, ys in lines:
        colour = colours.setdefault(name, f"C{len(colours) % 10}")
        ax.plot(xs, ys, SEED_STYLES[seed % len(SEED_STYLES)], color=colour, label=f"{label(name)}, seed {seed}",
                linewidth=1.3, marker="o" if len(xs) < 30 else None, markersize=3)  # a short run's points stay visible
    if max(abs(y) for _, _, _, ys in lines for y in ys) > 50:
        ax.set_yscale("symlog", linthresh=1.0)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def path_chart(points: list[tuple[int, float, float | None, float | None]], lines: list[float], ylabel: str,
               title: str) -> Figure | None:
    """A claim's evidence over the rounds of seeds: at each look (seeds per arm) the effect with its 95 % interval,
    and the rule's decision line(s) dashed; None when no look has a finite effect."""
    from matplotlib.figure import Figure

    points = [p for p in points if abs(p[1]) < float("inf")]
    if not points:
        return None
    fig = Figure(figsize=(5, 2.6))
    ax = fig.subplots()
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    low = [y - (lo if lo is not None else y) for y, (_, _, lo, _) in zip(ys, points, strict=True)]
    high = [(hi if hi is not None else y) - y for y, (_, _, _, hi) in zip(ys, points, strict=True)]
    ax.errorbar(xs, ys, yerr=[low, high], fmt="o-", color="C0", capsize=4, linewidth=1.3, markersize=4,
                label="effect, 95 % interval")
    for i, line in enumerate(lines):
        ax.axhline(line, color="C3", linestyle="--", linewidth=1, label="decision line" if i == 0 else None)
    ax.set(xlabel="seeds per arm at the look", ylabel=label(ylabel), title=label(title, 60))
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def png_bytes(fig: Figure) -> bytes:
    """A Figure as PNG bytes, without metadata."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()
