"""The workspace folder: everything for one catalog lives under one directory (DESIGN.md)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "fashion-gui"


def default_workspace() -> Path:
    """The demo workspace in the user's data directory (override with ``FASHION_GUI_WORKSPACE``)."""
    env = os.environ.get("FASHION_GUI_WORKSPACE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "demo"


@dataclass(frozen=True)
class Workspace:
    """Paths inside one workspace folder."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike | None) -> "Workspace":
        return cls(Path(root).expanduser().resolve() if root is not None else default_workspace().resolve())

    @property
    def catalog_path(self) -> Path:
        return self.root / "catalog.sqlite"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def indexes(self) -> Path:
        return self.root / "indexes"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def exists(self) -> bool:
        return self.catalog_path.is_file()

    def resolve_image(self, image_path: str) -> Path:
        """Catalog image paths are relative to the workspace unless absolute (imports may reference)."""
        p = Path(image_path)
        return p if p.is_absolute() else self.root / p
