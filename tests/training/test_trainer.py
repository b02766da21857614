"""The trainer base (training/trainer.py) on a toy method: it trains the parameters of a loss that owns some
(proxies) with per-group learning rates, keeps the best validation epoch, and reports a plan and stages."""
from dataclasses import dataclass

import pytest
import torch
import torch.nn as nn

from fashion_gui.methods import MethodSpec, Stage, option
from fashion_gui.methods import registry as registry_module
from fashion_gui.training.trainer import Trainer, chunked


@dataclass
class ToyConfig:
    epochs: int = option(3, help="epochs", stage="fit")
    lr: float = option(0.05, help="learning rate")
    seed: int = option(0, help="seed")
    device: str = option("cpu", help="device")


class ProxyLoss(nn.Module):
    """A loss that owns its parameters: squared distance of each embedding to its class proxy."""

    def __init__(self) -> None:
        super().__init__()
        self.proxies = nn.Parameter(torch.zeros(3, 2))

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return ((embeddings - self.proxies[labels]) ** 2).sum(1).mean()


class ToyTrainer(Trainer):
    scores = (0.1, 0.9, 0.5)  # validation score per epoch: epoch 2 is the best

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.model, self.loss = nn.Linear(4, 2), ProxyLoss()

    def setup(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(60, 4, generator=g), torch.randint(0, 3, (60,), generator=g)
        self.snapshots: list[dict] = []

    def modules(self):
        return {"model": self.model, "loss": self.loss}

    def param_groups(self, stage):
        return [{"params": list(self.model.parameters())}, {"params": [self.loss.proxies], "lr_scale": 10.0}]

    def make_optimizer(self, stage):
        self.optimizer = super().make_optimizer(stage)
        return self.optimizer

    def batches(self, stage, epoch):
        return chunked(torch.randperm(60, generator=self.generator), 20)

    def step(self, stage, idx):
        loss = self.loss(self.model(self.x[idx]), self.y[idx])
        return loss, {"loss": loss.item()}, len(idx)

    def validate(self, stage, epoch):
        self.snapshots.append({k: v.clone() for k, v in self.model.state_dict().items()})
        return self.scores[epoch], {"val_score": self.scores[epoch]}


@pytest.fixture()
def toy(monkeypatch):
    spec = MethodSpec(name="toy", description="a toy", paper="-", config_cls=ToyConfig,
                      trainer="tests.training.test_trainer:ToyTrainer", evaluator="-", retriever="-",
                      serves=(), stages=(Stage("fit", "epochs", "fitting"),))
    monkeypatch.setitem(registry_module._REGISTRY, "toy", spec)
    return spec


def test_losses_own_parameters_train_with_their_group_learning_rate(toy, demo_workspace, tmp_path):
    events = []
    trainer = ToyTrainer(demo_workspace, toy.make_config({}), tmp_path / "toy", [events.append], method="toy")
    before = trainer.loss.proxies.detach().clone()
    trainer.run()
    assert not torch.equal(trainer.loss.proxies.detach(), before), "the loss's proxies were trained"
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([0.05, 0.5])
    # the best validation epoch (2 of 3) is what the run keeps
    assert all(torch.equal(v, trainer.snapshots[1][k]) for k, v in trainer.model.state_dict().items())
    assert not all(torch.equal(v, trainer.snapshots[2][k]) for k, v in trainer.model.state_dict().items())
    assert events[0].kind == "plan" and events[0].plan == [{"name": "fit", "title": "fitting", "epochs": 3}]
    assert {(e.stage_index, e.stage_count) for e in events if e.kind == "step"} == {(1, 1)}
    saved = torch.load(tmp_path / "toy" / "weights.pt", weights_only=True)
    assert set(saved) == {"model", "loss"} and torch.equal(saved["loss"]["proxies"], trainer.loss.proxies.detach())


def test_a_damaged_state_file_is_refused_naming_it(toy, demo_workspace, tmp_path):
    from fashion_gui.inference.checkpoint import CheckpointError

    out = tmp_path / "toy"
    out.mkdir()
    (out / "state.pt").write_bytes(b"\x80\x04 not a torch file")
    trainer = ToyTrainer(demo_workspace, toy.make_config({}), out, method="toy")
    with pytest.raises(CheckpointError, match=r"state\.pt is damaged.*without --resume"):
        trainer.run(resume=True)
