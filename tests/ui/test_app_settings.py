"""What the app remembers per workspace: the encoder model, a model per request kind and the edit ranking;
values written by older versions, or edited by hand, fall back to Automatic (and the default ranking)
instead of failing."""
import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402

from fashion_gui.engine import EngineConfig  # noqa: E402
from fashion_gui.engine.edits import EditPolicy  # noqa: E402
from fashion_gui.ui.app_settings import AppSettings, _key  # noqa: E402


def test_engine_config_round_trip_and_old_or_broken_values(tmp_path):
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    ws, other = tmp_path / "ws", tmp_path / "other"
    assert settings.engine_config(ws) == EngineConfig()
    config = EngineConfig(encoder_model="adde-2", models={"text": "uigr-rtic", "compatible": "adde-o"}, graph_k=9)
    settings.set_engine_config(ws, config)
    back = settings.engine_config(ws)
    assert back.encoder_model == "adde-2" and dict(back.models) == {"text": "uigr-rtic", "compatible": "adde-o"}
    assert back.graph_k == EngineConfig().graph_k  # only the model choices are remembered
    assert settings.engine_config(other) == EngineConfig()  # per workspace

    def stored(value) -> EngineConfig:
        settings.qsettings.setValue(f"engine/{_key(ws)}", value if isinstance(value, str) else json.dumps(value))
        return settings.engine_config(ws)

    # what the previous version wrote: its keys are ignored
    assert stored({"attribute_model": "adde", "composed_model": "uigr-tirg", "compatible_model": "adde-o"}) \
        == EngineConfig()
    assert stored({"encoder_model": "adde", "compatible_model": "uigr"}) == EngineConfig(encoder_model="adde")
    # hand-edited or damaged values: Automatic
    assert stored("{not json") == EngineConfig()
    assert stored([1, 2]) == EngineConfig()
    assert stored({"encoder_model": 3, "models": {"text": None, "compatible": "adde-o"}}) == \
        EngineConfig(models={"compatible": "adde-o"})
    assert stored({"models": "adde-o"}) == EngineConfig()
    assert stored({"models": {"no-such-kind": "x", "text": "uigr-tirg"}}) == EngineConfig(models={"text": "uigr-tirg"})


def test_the_edit_ranking_is_remembered_per_workspace(tmp_path):
    settings = AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat))
    ws, other = tmp_path / "ws", tmp_path / "other"
    assert settings.engine_config(ws).edits.ranking == "visual"  # the default
    settings.set_engine_config(ws, EngineConfig(encoder_model="adde", edits=EditPolicy(ranking="labels")))
    assert settings.engine_config(ws) == EngineConfig(encoder_model="adde", edits=EditPolicy(ranking="labels"))
    assert settings.engine_config(other).edits == EditPolicy()
    for value in ("no-such-ranking", 3, None):  # damaged: the default ranking, the rest kept
        settings.qsettings.setValue(f"engine/{_key(ws)}", json.dumps({"encoder_model": "adde", "edit_ranking": value}))
        assert settings.engine_config(ws) == EngineConfig(encoder_model="adde")
