"""What the app remembers between runs (QSettings): window geometry and state, workspace, device, models and
the edit ranking (per workspace), k and the recent queries. One small typed wrapper so the keys live in one place."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from fashion_gui.engine import EngineConfig
from fashion_gui.engine.edits import EDIT_RANKINGS, EditPolicy
from fashion_gui.methods import REQUEST_KINDS

MAX_RECENT = 12


@dataclass(frozen=True)
class RecentQuery:
    """A query the user can go back to: a catalog item or an image file (pasted bytes are not kept)."""

    kind: str  # "item" | "file"
    value: str  # item id or file path
    label: str  # what the menu shows
    image: str = ""  # image file for the menu's thumbnail

    @property
    def item_id(self) -> int | None:
        return int(self.value) if self.kind == "item" else None


class AppSettings:
    """Typed access to the app's QSettings; tests pass a QSettings on a temporary ini file."""

    def __init__(self, settings: QSettings | None = None) -> None:
        self.qsettings = settings if settings is not None else QSettings()

    def _get(self, key: str, default=None):
        return self.qsettings.value(key, default)

    # --- workspace and engine ----------------------------------------------------------------------
    @property
    def workspace(self) -> Path | None:
        value = self._get("workspace")
        return Path(value) if value else None

    @workspace.setter
    def workspace(self, path: Path) -> None:
        self.qsettings.setValue("workspace", str(path))

    @property
    def device(self) -> str:
        return str(self._get("device", "auto"))

    @device.setter
    def device(self, device: str) -> None:
        self.qsettings.setValue("device", device)

    def engine_config(self, workspace: Path) -> EngineConfig:
        """The choices made for ``workspace`` (a model name means nothing in another workspace): the encoder
        model, a checkpoint per request kind and the edit ranking. Keys of older versions and malformed values
        are ignored (Automatic and the default ranking instead)."""
        raw = self._get(f"engine/{_key(workspace)}")
        try:
            values = json.loads(raw) if raw else {}
        except (ValueError, TypeError):  # a hand-edited value: fall back to the defaults
            return EngineConfig()
        if not isinstance(values, dict):
            return EngineConfig()
        encoder = values.get("encoder_model")
        models = values.get("models")
        if not isinstance(models, dict):
            models = {}
        models = {k: v for k, v in models.items() if k in REQUEST_KINDS and isinstance(v, str) and v}
        ranking = values.get("edit_ranking")
        edits = EditPolicy(ranking=ranking) if isinstance(ranking, str) and ranking in EDIT_RANKINGS else EditPolicy()
        return EngineConfig(encoder_model=encoder if isinstance(encoder, str) and encoder else None, models=models,
                            edits=edits)

    def set_engine_config(self, workspace: Path, config: EngineConfig) -> None:
        keep = {"encoder_model": config.encoder_model, "models": dict(config.models),
                "edit_ranking": config.edits.ranking}
        self.qsettings.setValue(f"engine/{_key(workspace)}", json.dumps(keep))

    @property
    def k(self) -> int:
        try:
            return max(1, int(self._get("k", 30)))
        except (TypeError, ValueError):
            return 30

    @k.setter
    def k(self, k: int) -> None:
        self.qsettings.setValue("k", int(k))

    # --- window --------------------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self._get("window/geometry"), self._get("window/state")

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    # --- recent queries ------------------------------------------------------------------------------
    def recent(self, workspace: Path) -> list[RecentQuery]:
        raw = self._get(f"recent/{_key(workspace)}")
        try:
            return [RecentQuery(**r) for r in json.loads(raw)] if raw else []
        except (ValueError, TypeError):
            return []

    def add_recent(self, workspace: Path, query: RecentQuery) -> list[RecentQuery]:
        """Put ``query`` first (once), keep the newest MAX_RECENT; returns the list."""
        items = [query] + [r for r in self.recent(workspace) if (r.kind, r.value) != (query.kind, query.value)]
        items = items[:MAX_RECENT]
        self.qsettings.setValue(f"recent/{_key(workspace)}", json.dumps([asdict(r) for r in items]))
        return items

    def sync(self) -> None:
        self.qsettings.sync()


def _key(workspace: Path) -> str:
    """A settings key for a folder (QSettings treats '/' as a group separator)."""
    return str(Path(workspace)).replace("/", "|").replace("\\", "|")
