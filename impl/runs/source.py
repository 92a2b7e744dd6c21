"""Where a run's images came from, as a typed value: the kind of data, the folder it was read from, how many images
were kept and the shape they were trained in. A run saves it in config.json (its run recipe) and a resume loads
the same images again from it; whether a run trained on FashionMNIST is read from its kind, never from words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from impl.core.errors import RunError


class DataKind(StrEnum):
    SYNTHETIC = "synthetic"  # generated blobs (tests, --dry-run)
    FASHION_MNIST = "fashion-mnist"  # FashionMNIST IDX files: 28x28 grey, or adapted to 64x64 RGB (FashionMNIST-64)
    IMAGES = "images"  # a folder of images (the course's anime faces)


@dataclass(frozen=True)
class DataSource:
    kind: DataKind
    folder: str | None = None  # where the files were read; None for synthetic data and Debian's FashionMNIST
    limit: int | None = None  # only the first this many images were kept (a smoke run)
    native: tuple[int, ...] = ()  # one image's shape as read (C, H, W)
    shape: tuple[int, ...] = ()  # as trained: the discriminator's input

    @property
    def adapted(self) -> bool:
        """Resized or re-coloured to the networks' input (FashionMNIST-64 is FashionMNIST adapted to 64x64 RGB)."""
        return self.native != self.shape

    @property
    def on_fashion(self) -> bool:
        return self.kind is DataKind.FASHION_MNIST

    def argument(self) -> str:
        """What `--data` says to load the same images again."""
        return self.folder if self.folder is not None else self.kind.value

    def words(self) -> str:
        """'fashion-mnist from /data/fm, the first 20 images, 1x28x28 as 3x64x64': what it is, for messages."""
        out = self.kind.value + (f" from {self.folder}" if self.folder else "")
        out += f", the first {self.limit:,} images" if self.limit else ""
        size = "x".join(map(str, self.native))
        return out + (f", {size} as {'x'.join(map(str, self.shape))}" if self.adapted else f", {size}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "folder": self.folder, "limit": self.limit, "native": list(self.native),
                "shape": list(self.shape)}

    @classmethod
    def from_json(cls, data: Any, where: Path | str) -> DataSource:
        """A saved source, checked field by field (config.json is a file anyone can edit)."""
        def bad(what: str) -> RunError:
            return RunError(f"{where}: run_recipe.data {what}; the run folder is damaged")

        if not isinstance(data, dict) or set(data) != {"kind", "folder", "limit", "native", "shape"}:
            raise bad("is not a table of kind, folder, limit, native and shape")
        try:
            kind = DataKind(data["kind"])
        except ValueError:
            raise bad(f"kind {data['kind']!r} is not one of {', '.join(k.value for k in DataKind)}") from None
        if data["folder"] is not None and not isinstance(data["folder"], str):
            raise bad("folder is not a string")
        limit = data["limit"]
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
            raise bad(f"limit {limit!r} is not a positive integer or null")
        for name in ("native", "shape"):
            dims = data[name]
            if not isinstance(dims, list) or len(dims) != 3 or not all(
                    isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 4096 for d in dims):
                raise bad(f"{name} {dims!r} is not three positive sizes")
        return cls(kind, data["folder"], limit, tuple(data["native"]), tuple(data["shape"]))
