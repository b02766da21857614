"""``fashion index build``, ``fashion search`` and ``fashion path`` on a tiny trained demo workspace."""
import json
import shutil

import pytest

from fashion_gui.catalog.store import Catalog
from fashion_gui.cli.main import main
from fashion_gui.workspace import Workspace


@pytest.fixture(scope="module")
def ws(trained_workspace, tmp_path_factory):
    copy = Workspace(tmp_path_factory.mktemp("cli_ws") / "ws")
    shutil.copytree(trained_workspace.root, copy.root, ignore=shutil.ignore_patterns("indexes"))
    return copy


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_index_build_then_search_by_image_with_edits(ws, capsys):
    assert main(["index", "build", "-w", str(ws.root), "--device", "cpu", "--json"]) == 0
    info = _json(capsys)
    assert info["indexes"]["adde/full"]["status"] == "built" and info["gallery_items"] == 600
    with Catalog.open(ws.catalog_path) as catalog:
        item = catalog.item(int(catalog.ids(split="test")[0]))
    new = "black" if item.attributes["colour"] != "black" else "white"
    image = ws.resolve_image(item.image_path)
    assert main(["search", "-w", str(ws.root), "--image", str(image), "--set", f"colour={new}", "--k", "7",
                 "--device", "cpu", "--json"]) == 0
    out = _json(capsys)
    assert out["request"] == "Manipulate" and out["requested"] == {"colour": new, "category": item.category}
    assert out["query"]["item_id"] == item.id and len(out["hits"]) == 7
    assert item.id not in [h["item_id"] for h in out["hits"]]
    assert all(h["matches"] == {"colour": h["attributes"]["colour"] == new, "category": h["category"] == item.category}
               for h in out["hits"])
    scores = [h["score"] for h in out["hits"]]
    assert scores == sorted(scores, reverse=True)
    # ranked on the catalog's labels: every hit has the asked colour in the query's category (or is marked)
    assert main(["search", "-w", str(ws.root), "--item", str(item.id), "--set", f"colour={new}", "--k", "7",
                 "--edit-ranking", "labels", "--device", "cpu", "--json"]) == 0
    out = _json(capsys)
    first_alternative = out["alternatives_from"] if out["alternatives_from"] is not None else 7
    assert all(all(h["matches"].values()) for h in out["hits"][:first_alternative])
    # the papers' ranking: ADDE's plain nearest neighbours, nothing but the colour asked
    assert main(["search", "-w", str(ws.root), "--item", str(item.id), "--set", f"colour={new}", "--k", "7",
                 "--edit-ranking", "paper", "--device", "cpu", "--json"]) == 0
    assert _json(capsys)["requested"] == {"colour": new}


def test_search_similar_in_and_text_output(ws, capsys):
    with Catalog.open(ws.catalog_path) as catalog:
        item_id = int(catalog.ids(split="test")[1])
    assert main(["search", "-w", str(ws.root), "--item", str(item_id), "--similar-in", "pattern", "--k", "3",
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "SimilarIn in subspace:pattern" in out and out.count(" item ") >= 3


def test_search_errors_are_one_line_messages(ws, capsys):
    args = ["search", "-w", str(ws.root), "--item", "1", "--device", "cpu"]
    assert main(args + ["--set", "colour=rouge"]) == 2
    assert "unknown value 'rouge'" in capsys.readouterr().err
    assert main(args + ["--set", "colour"]) == 2
    assert "--set takes ATTR=VALUE" in capsys.readouterr().err
    assert main(args + ["--text", "make it red"]) == 2
    assert "not available with this model" in capsys.readouterr().err
    bad = ws.root / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    assert main(["search", "-w", str(ws.root), "--image", str(bad), "--device", "cpu"]) == 2
    assert "bad.jpg" in capsys.readouterr().err


def test_path_command(ws, capsys):
    with Catalog.open(ws.catalog_path) as catalog:
        source = int(catalog.ids(category="t-shirt")[0])
    assert main(["path", "-w", str(ws.root), "--from", str(source), "--to-category", "shoes", "--device", "cpu",
                 "--json"]) == 0
    out = _json(capsys)
    assert out["ids"][0] == source and out["hits"][-1]["category"] == "shoes"
    assert len(out["steps"]) == len(out["ids"]) - 1 and out["largest_step"] is not None
    assert main(["path", "-w", str(ws.root), "--from", str(source), "--to", str(out["ids"][-1]), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    assert "<- largest step" in text and f"item {source}" in text
