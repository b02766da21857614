"""The settings pane (pane.py) and its tabs: Search (search_tab.py), Workspace (workspace_tab.py) and
Training (training_tab.py, with the option form of option_form.py)."""
from fashion_gui.ui.settings.pane import SettingsPane

__all__ = ["SettingsPane"]
