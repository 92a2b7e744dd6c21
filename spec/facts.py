"""Every documented value of the registry, with the excerpt that states it, and the check that it says so.

A documented fact carries `excerpt`, the report's own words. `check` finds the excerpt in the report (when the
reports are at hand) and reads the value back out of it: the excerpt's numbers (Arabic or Chinese) must be
exactly the value's; a loss, optimizer, data set or initialisation must be named by the excerpt and no other
one; a network must contain the excerpt in one of its evidence texts. Evidence excerpts (printouts, tables,
code, sentences) must stand in the report line for line, and a code excerpt must declare the network's layers
argument by argument (spec.code). Pure Python: `python -m tools.mutate` calls it for every mutant.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spec import code
from spec.fields import Fact
from spec.network import Evidence

# words that name a choice in a report (lower case); a documented choice's excerpt names it and no other
WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "loss": {"bce": ("binary cross entropy", "bceloss"), "wgan": ("mean", "均值"), "wgan-gp": ("gradient penalty",),
             "lsgan": ("least squares", "mseloss"), "hinge": ("hinge",)},
    "optimizer.name": {"Adam": ("adam",), "RMSprop": ("rmsprop",), "SGD": ("sgd",)},
    "init": {"dcgan": ("normal_(m.weight.data, 0.0, 0.02)",), "default": ()},
}
_ARABIC = re.compile(r"(?<![A-WYZa-wyz_\d.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_CHINESE = re.compile(r"[一二两三四五六七八九十百]+")
_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _chinese(word: str) -> int:
    """一 .. 九十九 and 百 (the small counts reports spell out: 训练三轮)."""
    if word == "百":
        return 100
    tens, _, units = word.partition("十")
    if "十" not in word:
        return _DIGITS.get(word[-1], 0)
    return (_DIGITS.get(tens, 1) if tens else 1) * 10 + (_DIGITS.get(units, 0) if units else 0)


def numbers(text: str) -> list[float]:
    """The numbers a text states, in order: 64, 1e-4, 0.999, 训练三轮 -> 3 (a letter or _ before digits: no)."""
    found = [(m.start(), float(m[0])) for m in _ARABIC.finditer(text)]
    found += [(m.start(), float(_chinese(m[0]))) for m in _CHINESE.finditer(text)]
    return [v for _, v in sorted(found)]


@dataclass(frozen=True)
class Claim:
    """One documented value (`fact`) or report excerpt (`evidence`) of one spec."""

    spec: str
    field: str  # "epochs", "optimizer.lr", "latent.values", "symbols.nc", "init", "evidence[2]"
    fact: Fact | None = None
    evidence: Evidence | None = None

    @property
    def report(self) -> str:
        source = self.fact.source if self.fact else self.evidence.source if self.evidence else ""
        return source[:3]


def claims(reg: Any) -> list[Claim]:
    """Every documented fact and every evidence excerpt of a registry (spec.Registry)."""
    out: list[Claim] = []
    for exp in reg.experiments.values():
        facts = {k: getattr(exp, k) for k in ("generator", "discriminator", "dataset", "loss", "batch_size", "epochs",
                                              "samples", "outcome", "n_critic", "clip_value", "gp_weight", "d_loss",
                                              "stated_steps")}
        facts |= {f"optimizer.{k}": v for k, v in exp.optimizer.items()}
        if exp.latent is not None:
            facts |= {f"latent.{k}": getattr(exp.latent, k) for k in ("count", "spacing", "positions", "values",
                                                                      "grid")}
        out += [Claim(exp.name, k, fact=f) for k, f in facts.items() if f is not None and f.documented]
    for net in reg.networks.values():
        facts = {"init": net.init, **{f"symbols.{k}": f for k, f in net.symbols.items()}}
        out += [Claim(net.name, k, fact=f) for k, f in facts.items() if f.documented]
        out += [Claim(net.name, f"evidence[{i}]", evidence=e) for i, e in enumerate(net.evidence)]
    return out


def claim(reg: Any, spec_name: str, field: str) -> Claim:
    return next(c for c in claims(reg) if c.spec == spec_name and c.field == field)


def report_texts(folder: Path | None) -> dict[str, str] | None:
    """Report number -> text, from a folder of NNN_*.txt files (None when there is no folder)."""
    if folder is None:
        return None
    return {f.name[:3]: f.read_text(encoding="utf-8") for f in sorted(folder.glob("[0-9][0-9][0-9]_*.txt"))}


def check(item: Claim, reg: Any, texts: dict[str, str] | None = None) -> list[str]:
    """What is wrong with one claim ([] if nothing): the excerpt is not in the report (checked only when
    `texts` is given), or the value is not what the excerpt says."""
    if item.evidence is not None:
        return _check_evidence(item, reg, texts)
    fact = item.fact
    assert fact is not None  # a claim holds a fact or an evidence excerpt (claims() makes no other)
    problems = []
    if texts is not None:
        if fact.report not in texts:
            problems.append(f"report {fact.report} not found beside the checkout")
        elif fact.excerpt not in texts[fact.report]:
            problems.append(f"excerpt {fact.excerpt!r} is not in report {fact.report} (verbatim)")
    return problems + _check_value(item.spec, item.field, fact, reg)


def _check_value(name: str, key: str, fact: Fact, reg: Any) -> list[str]:
    value, excerpt = fact.value, fact.excerpt
    if key in ("generator", "discriminator"):
        net = reg.networks.get(value)
        texts = [e.text for e in net.evidence] if net else []
        if not any(excerpt in t for t in texts):
            return [f"{value!r} has no evidence containing {excerpt!r}; quote a line of its printout, table or code"]
        return []
    if key == "dataset":
        words = {n: tuple(w.lower() for w in d.called) for n, d in reg.datasets.items()}
        return _named(value, words, excerpt, "data set")
    if key in WORDS:
        return _named(value, WORDS[key], excerpt, key)
    if key == "outcome":  # an English paraphrase: the numbers it mentions must be the excerpt's
        missing = [n for n in numbers(value) if not any(math.isclose(n, m) for m in numbers(excerpt))]
        return [f"the outcome mentions {missing} but its excerpt does not"] if missing else []
    if isinstance(value, bool) or isinstance(value, str):
        return [f"no rule reads a {type(value).__name__} {key!r} from a report; mark it inferred with a note"]
    expected = [float(v) for v in (value if isinstance(value, list) else [value])]
    stated = numbers(excerpt)
    if len(stated) != len(expected) or not all(math.isclose(a, b, rel_tol=1e-9) for a, b in zip(stated, expected)):
        return [f"the excerpt {excerpt!r} states {_plain(stated)}, the value is {value!r}; quote the words that "
                "state exactly this value"]
    return []


def _plain(values: list[float]) -> list[int | float]:
    return [int(v) if v == int(v) else v for v in values]


def _named(value: str, words: dict[str, tuple[str, ...]], excerpt: str, what: str) -> list[str]:
    text = excerpt.lower()
    named = sorted(choice for choice, ws in words.items() if any(w in text for w in ws))
    if named != [value]:
        return [f"the excerpt {excerpt!r} names the {what} {named or 'of none'}, the value is {value!r}"]
    return []


def _check_evidence(item: Claim, reg: Any, texts: dict[str, str] | None) -> list[str]:
    ev, problems = item.evidence, []
    assert ev is not None  # check() sends only the claims that hold an evidence excerpt here
    if texts is not None:
        text = texts.get(item.report)
        if text is None:
            problems.append(f"report {item.report} not found beside the checkout")
        else:
            problems += [f"line {line!r} is not in report {item.report}" for line in ev.text.splitlines()
                         if line.strip() and line not in text]
    net = reg.networks[item.spec]
    if ev.kind == "code":
        problems += code.compare(net, ev)
    elif ev.kind in ("printout", "summary") and not any(e.kind == "code" for e in net.evidence):
        # with no forward code, the modules run in the order the printout (registration) or the table (calls) shows
        declared = [m.path for m in net.modules if m.type != "Sequential"]
        called = [s.module for s in net.forward if s.module]
        if called != declared:
            problems.append(f"the forward pass calls {called}, but with no forward code the modules run in the "
                            f"order the {ev.kind} lists them: {declared}")
    return problems
