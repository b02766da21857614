"""A first run that survives: its state file, the time estimate, one CPU thread on a small machine, cancel
(which asks first and keeps what is finished) and resume (finished steps skipped, the interrupted training
continued from its state.pt), driven with pytest-qt against real child processes."""
import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QDialog  # noqa: E402

from fashion_gui.methods import get_method  # noqa: E402
from fashion_gui.ui.engine_worker import EngineClient  # noqa: E402
from fashion_gui.ui.first_run import DemoBuildDialog, first_run_values  # noqa: E402
from fashion_gui.ui.first_run_state import BuildEstimate, FirstRunState, thread_values  # noqa: E402
from fashion_gui.ui.startup import QUIT, RESUME, START_OVER, ask_resume, choice  # noqa: E402
from fashion_gui.workspace import Workspace  # noqa: E402

SMALL_CATALOG = ["--items", "240", "--size", "48", "--workers", "1"]
SMALL_ADDE = {"epochs": 4, "manip_epochs": 1, "image_size": 32, "d": 16, "triplets_per_epoch": 16}


def test_state_file_round_trip_and_what_it_refuses(tmp_path, demo_workspace):
    ws = demo_workspace  # read only: the state goes to a copy of its path below
    state = FirstRunState(["catalog", "adde", "adde-o", "indexes"], values={"adde": {"epochs": 2}})
    assert state.next_step == "catalog" and not state.complete
    state.interrupted = "catalog"
    state.mark_finished("catalog")
    assert state.finished == ["catalog"] and state.interrupted is None and state.next_step == "adde"

    other = Workspace(tmp_path / "ws")
    other.root.mkdir()
    (other.catalog_path).write_bytes(ws.catalog_path.read_bytes())
    state.interrupted = "adde"
    state.save(other)
    back = FirstRunState.load(other)
    assert back == state
    path = FirstRunState.path(other)
    for broken in ("{not json", json.dumps([1]), json.dumps({"version": 99}),
                   json.dumps({"version": 1, "steps": ["catalog", "no-such-method", "indexes"], "finished": [],
                               "values": {}}),
                   json.dumps({"version": 1, "steps": ["adde"], "finished": [], "values": {}})):
        path.write_text(broken)
        assert FirstRunState.load(other) is None, broken
    state.save(other)
    other.catalog_path.unlink()  # the catalog it claims is gone: nothing to resume
    assert FirstRunState.load(other) is None
    FirstRunState.remove(other)
    assert not path.exists() and FirstRunState.load(other) is None


def test_threads_on_a_small_machine_follow_its_load():
    assert thread_values(["epochs", "cpu_threads"], 2, 1.0) == {"cpu_threads": 1}  # another program runs
    assert thread_values(["epochs", "cpu_threads"], 2, 0.1) == {"cpu_threads": 2}  # idle: both cores
    assert thread_values(["epochs", "cpu_threads"], 2, None) == {"cpu_threads": 1}  # load unknown: the safe one
    assert thread_values(["epochs", "cpu_threads"], 1, 0.0) == {"cpu_threads": 1}
    assert thread_values(["epochs", "cpu_threads"], 8, 3.0) == {}
    assert thread_values(["epochs"], 2, 0.0) == {}
    for name in ("adde", "uigr-tirg", "adde-o"):  # every first-run method offers the option
        spec = get_method(name)
        assert first_run_values(spec, "cpu", 2, 1.0)["cpu_threads"] == 1
        assert first_run_values(spec, "cpu", 2, 0.0)["cpu_threads"] == 2
        assert "cpu_threads" not in first_run_values(spec, "cpu", 16, 0.0)


def test_the_estimate_covers_every_step_and_learns_the_machines_pace():
    est = BuildEstimate(["catalog", "adde", "indexes"], {"catalog": 20, "adde": 180, "indexes": 20})
    assert [round(w, 2) for w in est.weights()] == [0.09, 0.82, 0.09]
    est.start("catalog", 0.0)
    assert est.remaining("catalog", 0.0, 0.0) == 220  # nothing measured: the usual times
    est.finish("catalog", 40.0)  # this machine took twice as long
    assert est.scale == 2.0
    est.start("adde", 40.0)
    assert est.remaining("adde", 0.0, 40.0) == 2 * 180 + 2 * 20
    assert est.remaining("adde", 0.5, 140.0) == 100 + 40  # the step's own pace once it has one
    assert est.remaining("adde", 0.5, 140.0, step_remaining=30.0) == 30 + 40  # a training's own estimate


def _dialog(qtbot, ws, client, **kwargs) -> DemoBuildDialog:
    dialog = DemoBuildDialog(ws, client, catalog_flags=SMALL_CATALOG, methods=("adde",),
                             values={"adde": SMALL_ADDE}, device="cpu", **kwargs)
    qtbot.addWidget(dialog)
    return dialog


def test_cancel_asks_keeps_the_finished_steps_and_the_next_start_resumes(qtbot, tmp_path):
    ws = Workspace(tmp_path / "ws")
    client = EngineClient()
    try:
        dialog = _dialog(qtbot, ws, client, busy=1.0)  # another program keeps a core busy: one thread
        training = dialog.runs[1]
        assert "--resume" not in training.args
        assert training.values["cpu_threads"] == (1 if (os.cpu_count() or 1) <= 2 else 0)
        questions = []

        def on_event(event: dict) -> None:  # after the first epoch (state.pt saved): Escape, then Stop
            if event["kind"] != "epoch" or questions:
                return
            qtbot.keyClick(dialog, Qt.Key_Escape)
            box = dialog.confirmation
            questions.append(box.text())
            assert dialog.isVisible() and training.is_running()  # asking stops nothing
            dialog.stop_button.click()

        training.event.connect(on_event)
        labels = []
        dialog.progressed.connect(lambda _value, label: labels.append(label))
        assert dialog.exec() == QDialog.Rejected
        assert dialog.cancelled and training.outcome == "cancelled" and not dialog.is_running()
        assert questions and "step 2 of 3: training the attribute model (adde)" in questions[0]
        # the bar's text: the step, its own progress and the time left over all steps
        label = next(lbl for lbl in labels if "epoch" in lbl.splitlines()[2])
        assert label.splitlines()[1] == "step 2 of 3: training the attribute model (adde)"
        assert label.splitlines()[3].startswith("about ") and label.splitlines()[3].endswith(" left in all")

        # what is finished is kept and recorded; the interrupted training left its state
        assert ws.exists() and (ws.checkpoints / "adde" / "state.pt").is_file()
        assert not (ws.checkpoints / "adde" / "weights.pt").exists()
        state = FirstRunState.load(ws)
        assert state.finished == ["catalog"] and state.interrupted == "adde" and state.next_step == "adde"
        assert state.values["adde"] == training.values

        # the next start: the catalog is skipped, the training continues from its state.pt
        again = _dialog(qtbot, ws, client, resume=state)
        assert "--resume" in again.runs[1].args and again.runs[1].values == training.values
        events = []
        again.runs[1].event.connect(events.append)
        assert again.exec() == QDialog.Accepted, again.error
        assert again.runs[0].outcome == "idle" and again.runs[1].outcome == "finished"
        assert any(e["kind"] == "start" and "resuming" in e.get("message", "") and "after epoch 1" in e["message"]
                   for e in events)
        assert [e["epoch"] for e in events if e["kind"] == "epoch"][0] == 2  # epoch 1 was not trained again
        assert (ws.checkpoints / "adde" / "weights.pt").is_file()
        assert not (ws.checkpoints / "adde" / "state.pt").exists()
        assert FirstRunState.load(ws) is None and again.value() == 1000  # nothing left to resume
    finally:
        assert client.shutdown()


def test_the_start_asks_to_resume_a_stopped_first_run(qtbot):
    state = FirstRunState(["catalog", "adde", "indexes"], ["catalog"], {"adde": {}}, "adde")
    titles = ["rendering the demo catalog", "training the attribute model (adde)", "building the search indexes"]
    for label, meaning in (("Resume", RESUME), ("Start over", START_OVER), ("Quit", QUIT)):
        box = ask_resume(state, titles)
        qtbot.addWidget(box)
        assert "step 2 of 3: training the attribute model (adde)" in box.text()
        assert "rendering the demo catalog" in box.informativeText()
        assert box.defaultButton().text() == "Resume"
        box.open()
        next(b for b in box.buttons() if b.text() == label).click()
        assert choice(box) == meaning
    box = ask_resume(state, titles)
    qtbot.addWidget(box)
    box.open()
    qtbot.keyClick(box, Qt.Key_Escape)
    assert choice(box) == QUIT


class _FakeBuild:
    """Stands in for DemoBuildDialog in the start-up flow: records how it was made, builds nothing."""

    made: list = []

    def __init__(self, workspace, client, device="auto", resume=None, **_kwargs) -> None:
        self.resume, self.cancelled, self.error = resume, True, "stopped"
        _FakeBuild.made.append(self)

    def exec(self) -> int:
        return QDialog.Rejected


def test_a_start_on_a_stopped_first_run_asks_and_resumes_or_starts_over(qapp, demo_workspace, tmp_path,
                                                                       monkeypatch):
    import shutil

    from PySide6.QtCore import QSettings

    from fashion_gui.ui import startup
    from fashion_gui.ui.app_settings import AppSettings

    ws = Workspace(tmp_path / "ws")
    shutil.copytree(demo_workspace.root, ws.root)
    stopped = FirstRunState(["catalog", "adde", "indexes"], ["catalog"], {"adde": {"epochs": 2}}, "adde")
    settings = AppSettings(QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    client = EngineClient()
    monkeypatch.setattr(startup, "DemoBuildDialog", _FakeBuild)
    monkeypatch.setattr(startup.QMessageBox, "information", lambda *_args: None)
    asked = []
    try:
        for answer in (QUIT, RESUME, START_OVER):
            stopped.save(ws)
            monkeypatch.setattr(startup, "ask_resume", lambda state, titles, a=answer: asked.append(
                (state, titles)) or type("Box", (), {"exec": lambda self: 0, "answer": a})())
            monkeypatch.setattr(startup, "choice", lambda box: box.answer)
            _FakeBuild.made.clear()
            code = startup._run(qapp, settings, ws, client, first_run=False, started=0.0)
            assert asked[-1][0] == stopped and asked[-1][1][1] == "training the attribute model (adde)"
            if answer == QUIT:
                assert code == 0 and _FakeBuild.made == [] and FirstRunState.load(ws) == stopped
            elif answer == RESUME:  # the build resumes from the recorded state
                assert code == 1 and _FakeBuild.made[0].resume == stopped
            else:  # start over: the record goes, the build starts from the beginning
                assert code == 1 and _FakeBuild.made[0].resume is None and FirstRunState.load(ws) is None
    finally:
        assert client.shutdown()


def test_bench_first_run_times_every_step(qtbot, tmp_path):
    from fashion_gui.ui.bench_first_run import time_first_run

    figures = time_first_run(tmp_path / "ws", "cpu", catalog_flags=SMALL_CATALOG, methods=("adde",),
                             values={"adde": SMALL_ADDE})
    assert list(figures["steps_seconds"]) == ["catalog", "adde", "indexes"]
    assert all(v > 0 for v in figures["steps_seconds"].values())
    assert figures["total_seconds"] >= sum(figures["steps_seconds"].values()) - 0.5
    assert (tmp_path / "ws" / "checkpoints" / "adde" / "weights.pt").is_file()
