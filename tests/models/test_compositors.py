import pytest
import torch
import torch.nn as nn

from models.compositors import RTIC, TIRG, create_compositor, list_compositors, register_compositor


def test_registry_lists_the_paper_compositors():
    assert {"tirg", "rtic"} <= set(list_compositors())
    with pytest.raises(ValueError, match="unknown compositor 'nope'"):
        create_compositor("nope", 8, 8)
    with pytest.raises(ValueError, match="already registered"):
        register_compositor(lambda img_dim, text_dim: nn.Identity(), name="tirg")


@pytest.mark.parametrize("name", list_compositors())
@pytest.mark.parametrize("img_dim,text_dim", [(16, 16), (12, 20)])
def test_output_shape_over_registry(name, img_dim, text_dim):
    torch.manual_seed(0)
    comp = create_compositor(name, img_dim, text_dim)
    img, text = torch.randn(5, img_dim), torch.randn(5, text_dim)
    out = comp(img, text)
    assert out.shape == (5, img_dim)
    assert torch.isfinite(out).all()
    out.sum().backward()
    comp.eval()
    with torch.no_grad():
        assert comp(img[:1], text[:1]).shape == (1, img_dim)  # a single query in eval mode
    with pytest.raises(ValueError, match="text features"):
        comp(img, torch.randn(5, text_dim + 1))


def test_tirg_initial_weights_follow_google_tirg():
    comp = create_compositor("tirg", 8, 8)
    assert isinstance(comp, TIRG)
    assert comp.gate_weight.item() == 1.0 and comp.residual_weight.item() == 10.0
    assert comp.gate_weight.requires_grad and comp.residual_weight.requires_grad


def test_tirg_is_gated_image_plus_weighted_residual():
    torch.manual_seed(0)
    comp = create_compositor("tirg", 6, 4).eval()
    img, text = torch.randn(3, 6), torch.randn(3, 4)
    with torch.no_grad():
        joint = torch.cat([img, text], dim=1)
        expected = torch.sigmoid(comp.gate(joint)) * img * 1.0 + comp.residual(joint) * 10.0
        torch.testing.assert_close(comp(img, text), expected)


def test_rtic_has_four_independent_error_encoding_blocks():
    torch.manual_seed(0)
    comp = create_compositor("rtic", 8, 8)
    assert isinstance(comp, RTIC)
    blocks = list(comp.error_encoding)
    assert len(blocks) == 4
    assert len({id(b) for b in blocks}) == 4  # four modules, not one repeated
    weights = [b.net[0].weight for b in blocks]
    pointers = {w.data_ptr() for b in blocks for w in b.parameters()}
    assert len(pointers) == sum(1 for b in blocks for _ in b.parameters())  # no storage shared
    assert not any(torch.equal(weights[0], w) for w in weights[1:])  # independently initialised
    assert len([k for k in comp.state_dict() if k.endswith("net.0.weight") and "error_encoding" in k]) == 4  # saved 4x

    before = [w.detach().clone() for w in weights]
    with torch.no_grad():
        blocks[0].net[0].weight.add_(1.0)  # changing one block leaves the others alone
    assert not torch.equal(blocks[0].net[0].weight, before[0])
    for w, b in zip(weights[1:], before[1:]):
        assert torch.equal(w, b)


def test_rtic_gradients_reach_each_block_separately():
    torch.manual_seed(0)
    comp = create_compositor("rtic", 8, 8)
    comp(torch.randn(4, 8), torch.randn(4, 8)).pow(2).sum().backward()
    grads = [b.net[0].weight.grad for b in comp.error_encoding]
    assert all(g is not None for g in grads)
    assert not torch.equal(grads[0], grads[1])


def test_rtic_output_is_gate_mix_of_image_and_error_encoding():
    torch.manual_seed(0)
    comp = create_compositor("rtic", 8, 6).eval()
    img, text = torch.randn(3, 8), torch.randn(3, 6)
    with torch.no_grad():
        fused = comp.fuse(img, text)
        gate = comp.gating(fused)
        expected = gate * img + (1 - gate) * comp.encode_error(fused)
        torch.testing.assert_close(comp(img, text), expected)
    assert create_compositor("rtic", 8, 6, n_blocks=2).error_encoding.__len__() == 2
