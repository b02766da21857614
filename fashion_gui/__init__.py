"""Interactive fashion retrieval: a desktop app and its Qt-free engine, catalog and trainers."""

__version__ = "0.1.0"
