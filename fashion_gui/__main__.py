"""``python -m fashion_gui``: the desktop app."""
import sys

from fashion_gui.ui.app import main

sys.exit(main())
