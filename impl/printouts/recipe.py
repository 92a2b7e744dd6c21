"""The training recipe a report states in prose: batch size, epochs or steps, optimizer and its arguments,
learning rate, latent size and loss, each with the line it was read from (status documented) or none found."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"(\d+(?:\.\d+)?(?:e-?\d+)?)"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "batch_size": re.compile(r"batch[ _-]?size\s*[=:：]?\s*(\d+)|批(?:次|量)?大小\s*[=:：为]?\s*(\d+)", re.I),
    "epochs": re.compile(r"(?:epochs?|number of epochs)\s*[=:：]\s*(\d+)|(\d+)\s*(?:個|个)?\s*epochs?", re.I),
    "steps": re.compile(r"(?:number of )?steps\s*[=:：]\s*(\d+)", re.I),
    "optimizer": re.compile(r"\b(Adam|RMSprop|SGD|AdamW)\b", re.I),
    "lr": re.compile(r"(?:\blr|learning[ _]rate)\s*[=:：]?\s*" + _NUMBER, re.I),
    "betas": re.compile(r"betas?\s*[=:：]?\s*\(?\s*(0?\.\d+)\s*,\s*(0?\.\d+)\s*\)?|\(\s*(0\.\d+)\s*,\s*(0\.\d+)\s*\)",
                        re.I),
    "latent": re.compile(r"\b(?:nz|latent[ _](?:size|dim(?:ension)?)|z[ _]dim)\s*[=:：]\s*(\d+)", re.I),
    "loss": re.compile(r"\b(BCE(?:Loss)?|binary cross entropy|hinge|WGAN-GP|Wasserstein|MSE(?:Loss)?|least squares)\b",
                       re.I),
}


@dataclass(frozen=True)
class Found:
    key: str
    value: str | int | float | list[float]
    line: int
    excerpt: str


def find_recipe(text: str) -> list[Found]:
    """Every recipe value stated in `text`, the first mention of each key first, later mentions after it."""
    out: list[Found] = []
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > 2000:
            continue
        for key, pattern in _PATTERNS.items():
            for m in pattern.finditer(line):
                value = _value(key, [g for g in m.groups() if g is not None] or [m[0]])
                if value is not None:
                    out.append(Found(key, value, number, line.strip()[:200]))
    return out


def _value(key: str, groups: list[str]) -> str | int | float | list[float] | None:
    if key in ("batch_size", "epochs", "steps", "latent"):
        count = int(groups[0])
        return count if 0 < count < 10**9 else None
    if key == "lr":
        try:
            rate = float(groups[0])
        except ValueError:
            return None
        return rate if 0 < rate < 1 else None
    if key == "betas":
        return [float(groups[0]), float(groups[1])]
    if key == "optimizer":
        return {"adam": "adam", "rmsprop": "rmsprop", "sgd": "sgd", "adamw": "adamw"}[groups[0].lower()]
    word = groups[0].lower()
    return "bce" if word.startswith(("bce", "binary")) else "wgan-gp" if word == "wgan-gp" else \
        "wgan" if word == "wasserstein" else "lsgan" if word.startswith(("mse", "least")) else "hinge"
