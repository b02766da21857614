"""Start a search without a picture: pick attribute values ("navy" + "striped") and/or a category ("typical
coats"). The window sends an ``AttributeValues`` request (values, optionally within the category) or a
``CategoryQuery`` (a category alone), answered by a model that serves them (cooperative embeddings); the
results continue as any other turn."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from fashion_gui.methods import list_methods

ANY = "any"


class DescribeDialog(QDialog):
    """One list per attribute type and one for the category, each starting at "any"."""

    def __init__(self, info: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Search by description")
        self.setObjectName("describeDialog")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("No picture needed: pick attribute values, a category, or both."))
        form = QFormLayout()
        self.category_box = QComboBox()
        self.category_box.addItem(ANY, None)
        for c in info.get("categories", []):
            self.category_box.addItem(c, c)
        form.addRow("Category", self.category_box)
        self.value_boxes: dict[str, QComboBox] = {}
        for name, values in (info.get("values") or {}).items():
            box = QComboBox()
            box.addItem(ANY, None)
            for v in values:
                box.addItem(v, v)
            box.currentIndexChanged.connect(self._update)
            self.value_boxes[name] = box
            form.addRow(name, box)
        self.category_box.currentIndexChanged.connect(self._update)
        layout.addLayout(form)
        models = info.get("models") or {}
        self.available = bool(models.get("attribute_values")) and bool(models.get("category"))
        self.hint = QLabel("" if self.available else
                           "Searching without a picture needs a model for it: train "
                           f"{' or '.join(list_methods(serves='attribute_values'))} in Settings.")
        self.hint.setWordWrap(True)
        self.hint.setVisible(not self.available)
        layout.addWidget(self.hint)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText("Search")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update()

    def choice(self) -> tuple[dict[str, str], str | None]:
        """(attribute values picked, category picked or None)."""
        values = {name: box.currentData() for name, box in self.value_boxes.items() if box.currentData() is not None}
        return values, self.category_box.currentData()

    def set_choice(self, values: dict[str, str], category: str | None = None) -> None:
        for name, value in values.items():
            box = self.value_boxes[name]
            box.setCurrentIndex(box.findData(value))
        self.category_box.setCurrentIndex(self.category_box.findData(category) if category else 0)

    def _update(self) -> None:
        values, category = self.choice()
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(self.available and bool(values or category))
