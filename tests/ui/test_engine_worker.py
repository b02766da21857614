"""The engine worker thread: answers arrive on the GUI thread, only the newest is shown, errors are
reported, and shutdown leaves no thread running."""
import os
import shutil
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from fashion_gui.engine import Manipulate  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402


@pytest.fixture
def client(qtbot, trained_workspace, tmp_path):
    ws = Workspace(tmp_path / "ws")
    shutil.copytree(trained_workspace.root, ws.root, ignore=shutil.ignore_patterns("indexes"))
    c = EngineClient()
    with qtbot.waitSignal(c.opened, timeout=120_000) as opened:
        c.open(ws, "cpu")
    assert opened.args[0]["gallery_items"] == 600
    yield c
    assert c.shutdown()
    assert not c.thread.isRunning()


def test_jobs_run_off_the_gui_thread_and_only_the_newest_answer_is_shown(qtbot, client):
    gui = threading.get_ident()
    seen_threads = []

    def job(value):
        def run(engine):
            seen_threads.append(threading.get_ident())
            query = engine.query_from_item(int(engine.gallery.ids[value]))
            return engine.search(Manipulate(query, {}), k=3)
        return run

    answers = []
    client.result.connect(lambda job_id, value, seconds: answers.append((job_id, value)))
    ids = [client.submit(job(i)) for i in range(8)]  # rapid toggles
    qtbot.waitUntil(lambda: bool(answers) and answers[-1][0] == ids[-1], timeout=30_000)
    qtbot.wait(200)
    assert [job_id for job_id, _ in answers] == [ids[-1]]  # stale answers never reach the GUI
    assert len(answers[-1][1].hits) == 3
    assert seen_threads and all(t != gui for t in seen_threads)
    assert len(seen_threads) < 8  # stale jobs were skipped, not computed


def test_errors_reach_the_gui_as_messages(qtbot, client):
    def bad(engine):
        query = engine.query_from_item(int(engine.gallery.ids[0]))
        return engine.search(Manipulate(query, {"colour": "rouge"}))

    with qtbot.waitSignal(client.error, timeout=30_000) as err:
        client.submit(bad)
    assert "unknown value 'rouge'" in err.args[1]


def test_a_workspace_that_cannot_be_opened_is_reported(qtbot, tmp_path):
    c = EngineClient()
    try:
        with qtbot.waitSignal(c.open_failed, timeout=30_000) as failed:
            c.open(Workspace(tmp_path / "nothing"), "cpu")
        assert "no catalog.sqlite" in failed.args[0]
        with qtbot.waitSignal(c.error, timeout=10_000) as err:
            c.submit(lambda engine: None)
        assert "no workspace is open" in err.args[1]
    finally:
        assert c.shutdown()


def test_channels_keep_their_own_newest_answer(qtbot, client):
    """A path request does not cancel a search (and vice versa); within a channel only the newest counts."""
    def item_query(engine):
        return engine.search(Manipulate(engine.query_from_item(int(engine.gallery.ids[3])), {}), k=4)

    def typical(engine):
        return engine.typicality("shoes")

    answers = {}
    client.result.connect(lambda job_id, value, seconds: answers.setdefault(job_id, value))
    stale_search = client.submit(item_query, channel="search")
    path_job = client.submit(typical, channel="typicality")
    search_job = client.submit(item_query, channel="search")
    qtbot.waitUntil(lambda: path_job in answers and search_job in answers, timeout=30_000)
    qtbot.wait(100)
    assert stale_search not in answers
    assert answers[path_job].category == "shoes" and len(answers[search_job].hits) == 4
    assert client.latest_id("search") == search_job and client.latest_id("typicality") == path_job
