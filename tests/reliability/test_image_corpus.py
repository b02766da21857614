"""The generated corpus of bad and awkward images through every query path: each file loads, or is refused
with the project's own one-line error naming it; none takes more than a few seconds or ~1 GB."""
from __future__ import annotations

import os

from fashion_gui.reliability.corpus import LOAD, REFUSE
from fashion_gui.reliability.images_check import (
    MEMORY_LIMIT_MB,
    SECONDS_PER_IMAGE,
    cli_pass,
    names_file,
    run_encode_child,
)

KINDS = {"truncated", "zero-byte", "wrong-extension", "random", "bomb", "aspect", "mode", "animated", "exif",
         "symlink", "directory", "unicode-name", "large", "valid"}


def test_the_corpus_is_large_and_covers_every_kind(corpus):
    folder, cases = corpus
    assert len(cases) >= 150 and len({c.name for c in cases}) == len(cases)
    assert KINDS <= {c.kind for c in cases}
    assert sum(c.expect == LOAD for c in cases) >= 50 and sum(c.expect == REFUSE for c in cases) >= 50
    assert all(os.path.lexists(c.path(folder)) for c in cases if c.kind != "missing")


def _failures(outcomes):
    return [f"{o.name} [{o.kind}, expected {o.expect}]: {o.result} after {o.seconds:.2f} s: {o.message}"
            for o in outcomes if o.result not in ("loaded", "refused")]


def test_engine_encode_loads_or_refuses_every_file_within_time_and_memory(tiny, corpus):
    folder, cases = corpus
    outcomes = run_encode_child(tiny.root, folder, cases)
    assert _failures(outcomes) == []
    assert max(o.seconds for o in outcomes) < SECONDS_PER_IMAGE
    assert max(o.peak_mb for o in outcomes) < MEMORY_LIMIT_MB
    by_name = {o.name: o for o in outcomes}
    assert by_name["large-flat-79mp.png"].result == "loaded" and by_name["aspect-100000x2.png"].result == "refused"
    assert sum(o.result == "refused" for o in outcomes if o.kind == "truncated") >= 20


def test_fashion_search_loads_or_refuses_every_file_in_one_line(tiny, corpus):
    folder, cases = corpus
    outcomes = cli_pass(tiny.root, folder, [c for c in cases if c.kind != "large"])  # the large one: above
    assert _failures(outcomes) == []
    refused = [o for o in outcomes if o.result == "refused"]
    assert refused and all(o.message.startswith("fashion search: error: ") for o in refused)


def test_names_file_recognises_the_path_or_its_name(tmp_path):
    path = tmp_path / "ñandú.jpg"
    assert names_file(f"{path}: the file is empty", path) and names_file("ñandú.jpg: damaged", path)
    assert not names_file("an image is damaged", path)
