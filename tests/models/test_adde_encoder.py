import pytest
import torch
import torch.nn as nn

from models.adde import ADDEConfig, ADDEEncoder

SIZES = [3, 4, 2]


def _encoder(**kw):
    torch.manual_seed(0)
    return ADDEEncoder(SIZES, backbone="compact", d=8, **kw)


def test_output_shapes():
    enc = _encoder().eval()
    out = enc(torch.randn(2, 3, 64, 64))
    assert out.chunks.shape == (2, 3, 8)
    assert out.embedding.shape == (2, 24)
    assert [tuple(lg.shape) for lg in out.logits] == [(2, 3), (2, 4), (2, 2)]
    assert torch.equal(out.embedding, out.chunks.flatten(1))
    assert enc.embedding_dim == 24 and enc.num_attributes == 3


def test_learner_and_predictor_architecture():
    enc = _encoder()
    phi = enc.learners[1]
    assert [type(m) for m in phi] == [nn.Linear, nn.ReLU, nn.Linear]
    assert (phi[0].in_features, phi[0].out_features, phi[2].out_features) == (256, 8, 8)
    assert [(c.in_features, c.out_features) for c in enc.classifiers] == [(8, 3), (8, 4), (8, 2)]


def test_heads_on_precomputed_features_match_full_forward():
    enc = _encoder().eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        full = enc(x)
        feats = enc.extract_features(x)
        heads = enc.forward_features(feats)
    assert feats.shape == (2, 256)
    assert torch.allclose(full.embedding, heads.embedding)
    for a, b in zip(full.logits, heads.logits):
        assert torch.allclose(a, b)
    # the predictors accept the flat embedding too (used on manipulated embeddings)
    for a, b in zip(enc.classify(heads.embedding), heads.logits):
        assert torch.allclose(a, b)
    with pytest.raises(ValueError, match=r"\(B, 24\)"):
        enc.classify(torch.zeros(2, 23))


def test_custom_backbone_module_and_dropout():
    backbone = nn.Sequential(nn.Flatten(), nn.Linear(12, 5))
    backbone.out_dim = 5
    enc = ADDEEncoder([2, 2], backbone=backbone, d=3, dropout=0.5)
    out = enc(torch.randn(4, 3, 2, 2))
    assert out.chunks.shape == (4, 2, 3)
    with pytest.raises(ValueError, match="out_dim"):
        ADDEEncoder([2], backbone=nn.Linear(2, 2))


def test_config_round_trip_and_errors():
    cfg = ADDEConfig(attribute_sizes=SIZES, backbone="compact", d=8)
    assert ADDEConfig().d == 340 and ADDEConfig().backbone == "alexnet"
    again = ADDEConfig.from_dict(cfg.to_dict())
    assert again == cfg
    enc = ADDEEncoder.from_config(again)
    assert enc.attribute_sizes == SIZES and enc.d == 8
    with pytest.raises(ValueError, match="unknown ADDEConfig field"):
        ADDEConfig.from_dict({**cfg.to_dict(), "lr": 1e-4})
    with pytest.raises(ValueError, match="at least one attribute type"):
        ADDEEncoder.from_config(ADDEConfig(backbone="compact"))
