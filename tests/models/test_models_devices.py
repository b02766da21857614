"""The blocks keep every tensor on the device of their inputs / parameters (CUDA only where available)."""

import pytest
import torch

from models.adde import ADDEEncoder
from models.grl import GRLDisentanglementLoss, NClassifierHead, NxNClassifierHead, feature_classifier_accuracy
from models.losses import ADDEManipulationLoss
from models.memory import MemoryBlock, manipulation_indicator

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_full_pipeline_on_device(device):
    torch.manual_seed(0)
    sizes = [2, 3]
    enc = ADDEEncoder(sizes, backbone="compact", d=4).to(device)
    mem = MemoryBlock(sizes, d=4).to(device)
    images = torch.randn(9, 3, 32, 32, device=device)
    labels = torch.tensor([[0, 0], [1, 2], [0, -1], [1, 1], [0, 2], [1, 0], [-1, 1], [0, 1], [1, 2]], device=device)
    out = enc(images)
    assert out.embedding.device.type == device
    mem.init_from_prototypes(out.chunks.detach(), labels)

    ref, pos, neg = (enc.forward_features(f) for f in enc.extract_features(images).split(3))
    labels_ref, labels_pos, labels_neg = labels.split(3)
    i = manipulation_indicator(labels_ref, {1: 2}, sizes)
    assert i.device.type == device
    manipulated = mem.manipulate(ref.embedding, i)
    terms = ADDEManipulationLoss()(ref, pos, neg, manipulated, enc.classify(manipulated), labels_ref, labels_pos,
                                   labels_neg, mem)
    terms.total.backward()

    for head_cls in (NClassifierHead, NxNClassifierHead):
        head = head_cls.from_encoder(enc).to(device)
        loss = GRLDisentanglementLoss(w_cls=0.2)(head(out.chunks.detach().requires_grad_()), labels)
        loss.total.backward()
        with torch.no_grad():
            acc = feature_classifier_accuracy(head.cross_logits(out.chunks), labels)
        assert acc.shape == (2, 2)
