"""The ASEN-format importer on a fixture shaped exactly like the ASEN code's FashionAI files (meta.json,
filenames_*, label_train, query_* / candidate_*), round-tripped through the exporter."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from fashion_gui.catalog.asen_import import export_asen, import_asen
from fashion_gui.catalog.attribute_protocol import attribute_protocol
from fashion_gui.catalog.importers import ImportProblems
from fashion_gui.catalog.store import Catalog
from fashion_gui.workspace import Workspace

FIXTURE = Path(__file__).parent / "fixtures" / "asen"


def _lines(path: Path) -> list[str]:
    return sorted(ln.strip() for ln in path.read_text().splitlines() if ln.strip())


def test_import_round_trips_the_fixture(tmp_path):
    ws = Workspace(tmp_path / "ws")
    counts = import_asen(ws, FIXTURE)
    assert counts["items"] == 12 + 9 + 9 and counts["attribute_types"] == 3
    with Catalog.open(ws.catalog_path) as catalog:
        assert catalog.schema.names == ["skirt_length", "sleeve_length", "collar_design"]
        assert catalog.schema.types[1].values[7] == "Long Sleeves"
        train = catalog.ids(split="train")
        assert len(train) == 12 and len(catalog.ids(split="val")) == 9
        # label_train line "4 1 2": file 4 has sleeve_length value 2 (Cup Sleeves) and nothing else
        assert catalog.labels(train[4:5]).tolist() == [[-1, 2, -1]]
        protocol = attribute_protocol(catalog, "test")
        assert set(protocol) == {"skirt_length", "sleeve_length", "collar_design"}
        assert all(len(q.queries) == 1 and len(q.candidates) == 2 for q in protocol.values())
        assert "query / candidate files" in catalog.get_meta("attribute_protocol")["source"]
        out = tmp_path / "export"
        export_asen(catalog, out, relative_to=FIXTURE)
    for name in ("filenames_train.txt", "filenames_valid.txt", "filenames_test.txt", "label_train.txt",
                 "query_valid.txt", "candidate_valid.txt", "query_test.txt", "candidate_test.txt"):
        assert _lines(out / name) == _lines(FIXTURE / name), name
    ws2 = Workspace(tmp_path / "ws2")
    for sub in ("train", "valid", "test"):  # the exported folder imports again, to the same catalog
        shutil.copytree(FIXTURE / sub, out / sub)
    import_asen(ws2, out)
    with Catalog.open(ws.catalog_path) as a, Catalog.open(ws2.catalog_path) as b:
        assert np.array_equal(a.labels(a.ids()), b.labels(b.ids()))


def test_bad_lines_are_reported_together_with_file_and_line(tmp_path):
    folder = tmp_path / "bad"
    shutil.copytree(FIXTURE, folder)
    (folder / "label_train.txt").write_text("0 0 1\n1 7 1\n2 2 99\nx y\n40 0 1\n")
    with pytest.raises(ImportProblems) as err:
        import_asen(Workspace(tmp_path / "ws"), folder)
    text = str(err.value)
    assert "label_train.txt line 2: attribute index 7" in text and "line 3: value 99" in text
    assert "line 4" in text and "line 5: file index 40" in text
    assert not (tmp_path / "ws" / "catalog.sqlite").exists()


def test_missing_meta_is_named(tmp_path):
    folder = tmp_path / "nometa"
    shutil.copytree(FIXTURE, folder)
    (folder / "meta.json").unlink()
    with pytest.raises(ImportProblems, match="meta.json: missing"):
        import_asen(Workspace(tmp_path / "ws"), folder)
