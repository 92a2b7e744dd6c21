"""The scorecard: every claim's verdict with its evidence, as scorecard.md, scorecard.json and a section of the
HTML report (impl/verdicts/evidence.py: the numbers per seed, the arms' sample grids side by side, the curves
read). Every row says the data it was decided on and the length its runs trained for; the raw decisions are
adjusted by Holm's method over each report's claims, the adjusted verdicts leading and the raw ones beside them; a
smoke run's verdicts say so. The pages: a summary (OUT/report.html) and one page per report (OUT/pages/), laid out
by impl/pages/site.py."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import spec
from impl.core.errors import RunError
from impl.pages import html, site
from impl.runs.folder import RunFolder
from impl.runs.untrusted import esc, get
from impl.verdicts import evidence, stats
from impl.verdicts import verdict as outcomes
from impl.verdicts.decide import decide
from impl.verdicts.verdict import FAILS, HOLDS, INCONCLUSIVE, MARKDOWN_HEADER, SMOKE, VERDICTS, Verdict
from spec.claim import ClaimSpec

if TYPE_CHECKING:
    from impl.arms.engine import ArmsFolder, Planned
    from spec.arm import ArmSpec

    Items = list[tuple[ArmSpec, Planned]]

ARMS_HEADING = (f"## Arms: their run folders ({RunFolder.CONFIG}, {RunFolder.EVALUATION}, {RunFolder.LOG}, ...) "
                "and lengths")


def runs_by_key(items: Items) -> dict[str, list[Path]]:
    """Each arm's run folders (by its canonical key), in seed order."""
    runs: dict[str, list[Path]] = {}
    for arm, item in sorted(items, key=lambda i: i[1].request.seed or 0):
        runs.setdefault(arm.key(), []).append(item.folder)
    return runs


def decide_all(claims: list[ClaimSpec], items: Items, smoke: bool = False) -> list[Verdict]:
    """Each claim decided from the runs of its arms, in seed order, then Holm's adjustment over the family."""
    runs = runs_by_key(items)
    verdicts = [decide(claim, runs) for claim in claims]
    for v in verdicts:
        v.smoke = smoke
    return adjust(verdicts)


def adjust(verdicts: list[Verdict]) -> list[Verdict]:
    """Holm's step-down adjustment over each report's decided claims (one p-value each, that of the decision taken
    or, for an inconclusive one, of the nearer decision): a raw 'holds' or 'does not hold' stays only when its
    adjusted p-value is below the same 2.5 % per side; the others read 'inconclusive'. The family is one report, so
    a report's verdicts do not change with the other reports decided beside it."""
    for report in dict.fromkeys(v.report for v in verdicts):
        family = [v for v in verdicts if v.report == report and v.p_value is not None]
        p_values = [v.p_value for v in family if v.p_value is not None]  # all of them: family has only those
        for v, p in zip(family, stats.holm(p_values), strict=True):
            v.holm = v.verdict if v.verdict in (HOLDS, FAILS) and p < stats.ALPHA else INCONCLUSIVE
            v.family = f"report {report}"
    return verdicts


def real_length(config: dict[str, Any]) -> int | None:
    """The recipe's length in steps on its own data set: its epochs of the set's images in its batches (the last
    partial batch dropped); None where the recipe or the set is not known."""
    recipe = config.get("recipe") if isinstance(config.get("recipe"), dict) else {}
    epochs, batch, name = (get(recipe, key, "value") for key in ("epochs", "batch_size", "dataset"))
    data = spec.registry().datasets.get(name) if isinstance(name, str) else None
    if not (isinstance(epochs, int) and isinstance(batch, int) and batch > 0 and data is not None):
        return None
    steps: int = epochs * (data.images.value // batch)  # a data set's image count is a whole number
    return steps


def run_seconds(run: Path) -> float:
    """What a run cost: from its start (config.json) to its last training log line, plus its evaluation."""
    folder = RunFolder(run, trusted=False)
    try:
        started = time.mktime(time.strptime(str(folder.config().get("started")), "%Y-%m-%d %H:%M:%S"))
        trained = max(0.0, folder.file(RunFolder.LOG).stat().st_mtime - started)
    except (RunError, OSError, ValueError, OverflowError):
        trained = 0.0
    evaluation, _ = folder.optional(RunFolder.EVALUATION)
    spent = get(evaluation or {}, "evaluation_seconds")
    return trained + (float(spent) if isinstance(spent, int | float) and math.isfinite(spent) else 0.0)


def lengths(items: Items) -> dict[str, str]:
    """Each arm's run folders, trained length, the recipe's real length on its own data and what its seeds cost:
    'in `r004-mlp/seed-*/`: 10 steps (2 epochs) of the recipe's 2,811 on fashion-mnist; 3 runs, 12 s'."""
    out: dict[str, str] = {}
    cost: dict[str, float] = {}
    runs: dict[str, int] = {}
    for arm, item in items:
        cost[arm.key()] = cost.get(arm.key(), 0.0) + run_seconds(item.folder)
        runs[arm.key()] = runs.get(arm.key(), 0) + 1
    for arm, item in items:
        if item.request.seed or arm.key() in out:
            continue
        try:
            config = RunFolder(item.folder).config()
        except RunError:  # a run that never started: the verdict says it is not measurable
            continue
        spe, total = config.get("steps_per_epoch") or 1, config["total_steps"]
        full, data = real_length(config), get(config, "recipe", "dataset", "value")
        out[arm.key()] = f"in `{item.folder.parent.name}/seed-*/`: {total:,} steps ({total / spe:.3g} epochs)" + \
            (" = the recipe's length" if full == total else f" of the recipe's {full:,} on {data}" if full else "") + \
            f"; {runs[arm.key()]} run(s), {cost[arm.key()]:,.0f} s"
    return out


def run_hours(items: Items) -> float:
    return sum(run_seconds(item.folder) for _, item in items) / 3600


def counts(verdicts: list[Verdict], raw: bool = False) -> dict[str, int]:
    """How many claims got each headline verdict (after Holm; `raw`: before it), a smoke run's all 'smoke: means
    nothing'."""
    def of(v: Verdict) -> str:
        return (v.shown if v.shown == SMOKE else v.outcome) if raw else v.headline

    names = (HOLDS, outcomes.HOLDS_SMALLER, FAILS, INCONCLUSIVE, outcomes.NOT_MEASURABLE, SMOKE)
    return {name: sum(of(x) == name for x in verdicts) for name in names
            if any(of(x) == name for x in verdicts) or name in VERDICTS}


def _rounds_lines(meta: dict[str, Any]) -> list[str]:
    """--seeds auto: what each round looked at, the level it tested at, and the claims it decided."""
    return [f"- round {i}: {r['seeds']} seeds per arm, tested at {r['level']:.3g}: "
            + (", ".join(f"`{c}` {d}" for c, d in r["decided"].items()) or "nothing decided")
            for i, r in enumerate(meta.get("rounds", []), 1)] + ([""] if meta.get("rounds") else [])


def _number(x: object) -> str:
    return f"{x:.4g}" if isinstance(x, int | float) else "-"


def _path_lines(verdicts: list[Verdict]) -> list[str]:
    """--seeds auto: each claim's evidence after each round (seeds per arm, effect [interval] or k of n, p, the
    round's level and the alpha spent by then, the verdict then) and, undecided, what one more round would do."""
    out = []
    for v in verdicts:
        if not v.path:
            continue
        steps = []
        for i, look in enumerate(v.path, 1):
            arms = ", ".join(f"{a} {n}" for a, n in (look.get("per_arm") or {}).items())
            ci, events = look.get("ci"), look.get("events")
            effect = f"{events[0]} of {events[1]} seeds" if events else _number(look.get("effect")) + (
                f" [{_number(ci[0])}, {_number(ci[1])}]" if ci else "")
            steps.append(f"round {i} ({arms}): {effect}, p {_number(look.get('p'))}, level {_number(look.get('level'))}"
                         f" (spent {_number(look.get('spent'))}): {look.get('raw')} -> {look.get('decision')}")
        ahead = f"; {v.next_round['text']}" if v.next_round else ""
        out.append(f"- `{v.claim}`: " + "; ".join(steps) + ahead)
    return ["## Each claim over the rounds", "", *out, ""] if out else []


def markdown(verdicts: list[Verdict], claims: list[ClaimSpec], meta: dict[str, Any], arms: dict[str, str]) -> str:
    faces = f"face claims decided on {meta['faces']}; " if any(c.data == "anime-faces" for c in claims) else ""
    smoke = meta.get("quick")
    head = [f"# Scorecard: reports {', '.join(meta['reports'])}" + (" (smoke run: its verdicts mean nothing)"
                                                                    if smoke else ""), "",
            (f"{meta['seeds']} seeds per arm" if meta['seeds'] != "auto" else
             f"seeds in rounds ({meta['spending']} alpha spending, at most {meta['max_seeds']} per arm; "
             f"{meta['stopped']}; {meta['runs_trained']} runs trained in this call)")
            + (f" at batch {meta['batch_size']} and {meta['steps']} steps (--quick: a smoke run that checks the "
               "plumbing; every verdict reads 'smoke: means nothing')" if smoke else "")
            + f"; {meta['n']:,} generated images per run for the metrics; device "
            f"{meta['device']}; {faces}wall time {meta['wall_s']:,.0f} s over all its "
            f"calls ({meta.get('this_call_s', meta['wall_s']):,.0f} s in the last).", "",
            *_rounds_lines(meta),
            "After Holm, per report: " + " · ".join(f"{n} {v}" for v, n in counts(verdicts).items()), "",
            "Each verdict is the decision after Holm's adjustment over its own report's claims (family-wise 2.5 % per "
            "side; one family per report, so a report's verdicts do not change with the reports run beside it); a "
            "raw decision that does not survive it reads inconclusive. Raw, before Holm: "
            + " · ".join(f"{n} {v}" for v, n in counts(verdicts, raw=True).items()) + ".", "", MARKDOWN_HEADER,
            *(v.markdown_row() for v in verdicts), "", *_path_lines(verdicts), ARMS_HEADING, "",
            *(f"- `{key}` {text}" for key, text in arms.items()), "", "## Readings and proxies", ""]
    by_id = {c.id: c for c in claims}
    for v in verdicts:
        c = by_id[v.claim]
        notes = "; ".join(x for x in (c.reading, f"proxy: {c.proxy}" if c.proxy else "", c.reason) if x)
        head.append(f"- `{c.id}` ({c.report} {c.section}): {c.paraphrase}" + (f" {notes}" if notes else ""))
    return "\n".join(head) + "\n"


def banner(meta: dict[str, Any], items: Items) -> list[tuple[str, str]]:
    """The scorecard at a glance, for the top of every page."""
    smoke = meta.get("quick")
    facts = [("seeds ", f"{meta['seeds']} per arm"),
             ("length ", f"{meta['steps']} steps of batch {meta['batch_size']} per arm" if smoke else
              f"cut to {meta['steps']:,} steps" if meta.get("steps") else "each recipe's own"),
             ("device ", str(meta["device"])),
             ("wall time ", f"{meta['wall_s']:,.0f} s"), ("run-hours ", f"{run_hours(items):.2f}"),
             ("data ", str(meta.get("faces") or "FashionMNIST")), ("metrics on ", f"{meta['n']:,} images per run"),
             ("finished ", str(meta.get("finished", "")))]
    return facts


def write(folder: ArmsFolder, claims: list[ClaimSpec], verdicts: list[Verdict], items: Items, meta: dict[str, Any],
          quiet: bool = False) -> None:
    """OUT/scorecard.json, OUT/scorecard.md, and the pages: OUT/report.html (the summary) and OUT/pages/ (one page
    per report, its images as files). `quiet` prints one line instead of the scorecard."""
    arms = lengths(items)
    meta = meta | {"finished": time.strftime("%Y-%m-%d %H:%M:%S"), "arm_lengths": arms,
                   "run_hours": round(run_hours(items), 4)}
    folder.root.write_json("scorecard.json", {**meta, "headline": counts(verdicts), "raw": counts(verdicts, raw=True),
                                              "holm_family": "report", "claims": [v.to_json() for v in verdicts]})
    text = markdown(verdicts, claims, meta, arms)
    folder.root.write_text("scorecard.md", text)
    runs = runs_by_key(items)
    title = f"gan-spec scorecard: reports {', '.join(meta['reports'])}" + (" (smoke run)" if meta.get("quick") else "")
    shown = counts(verdicts)
    paths = [p for paths in runs.values() for p in paths if RunFolder(p).file(RunFolder.CONFIG).exists()]
    everything = html.loaded(paths, [f"{p.parent.name}/{p.name}" for p in paths])
    differ = html.measured_groups(everything)
    warning = site.collapsed_warning(f"these runs' metrics were measured differently in {len(differ)} way(s) (the "
                                     "reports' data differ); each claim compares only its own arms", differ)
    arms_list = "".join(f"<li><code>{esc(key)}</code> {esc(line.replace('`', ''))}</li>" for key, line in arms.items())
    tail = (f"<h2>Arms</h2><ul class=note>{arms_list}</ul><p class=note>Holm: the decision after Holm's adjustment "
            "over each report's claims (family-wise 2.5 % per side and report). The same numbers: "
            '<a href="scorecard.md">scorecard.md</a>, <a href="scorecard.json">scorecard.json</a>.</p>')
    pages = site.write(folder.root, title, site.banner(banner(meta, items), bool(meta.get("quick"))),
                       evidence.report_parts(verdicts, claims, runs), evidence.SUMMARY_HEADS, shown,
                       evidence.COLOURS, css=evidence.CSS, warning=warning, tail=tail)
    summary = " · ".join(f"{n} {v}" for v, n in shown.items() if n)
    if quiet:
        print(f"scorecard: {summary}; {folder.path / site.SUMMARY}")
    else:
        print(text + f"\nevidence beside every verdict: {folder.path / site.SUMMARY} ({len(pages)} pages)")
