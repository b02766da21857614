import pytest
import torch
import torch.nn as nn
import torchvision

import models.backbones as backbones
from models.backbones import create_backbone, list_backbones, register_backbone

# smallest input each backbone accepts (AlexNet's conv/pool stack needs 63 px); the rest run at 32 px
MIN_SIZE = {"alexnet": 63}
FEATURE_DIM = {"alexnet": 4096, "resnet18": 512, "resnet50": 2048, "compact": 256}


def test_registry_lists_the_builtin_backbones():
    assert {"alexnet", "resnet18", "resnet50", "compact"} <= set(list_backbones())


@pytest.mark.parametrize("name", list_backbones())
def test_every_backbone_returns_pooled_features(name):
    torch.manual_seed(0)
    model = create_backbone(name).eval()
    size = MIN_SIZE.get(name, 32)
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, model.out_dim)
    assert torch.isfinite(out).all()
    if name in FEATURE_DIM:
        assert model.out_dim == FEATURE_DIM[name]


# channels of the maps after each stage (ASEN cuts ResNet50 after layer3: 1024 channels, 14 x 14 at 224 px)
STAGE_CHANNELS = {"resnet18": {"layer1": 64, "layer3": 256, "layer4": 512},
                  "resnet50": {"layer1": 256, "layer3": 1024, "layer4": 2048},
                  "compact": {"stage1": 32, "stage3": 128, "stage5": 256}, "alexnet": {"conv5": 256}}


@pytest.mark.parametrize("name", list_backbones())
def test_every_backbone_exposes_feature_maps_before_pooling(name):
    torch.manual_seed(0)
    model = create_backbone(name).eval()
    size = MIN_SIZE.get(name, 64)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        maps = model.forward_features(x)  # the last stage by default
        assert maps.ndim == 4 and maps.shape[:2] == (2, model.feature_channels())
        assert maps.shape[1] == model.feature_channels(model.feature_stages[-1])
        for stage, channels in STAGE_CHANNELS.get(name, {}).items():
            assert model.forward_features(x, upto=stage).shape[1] == model.feature_channels(stage) == channels
        if name != "alexnet":  # the pooled features are the average of the last maps (AlexNet adds fc6/fc7)
            torch.testing.assert_close(model(x), maps.mean(dim=(2, 3)))
    with pytest.raises(ValueError, match="no feature stage 'layer9'"):
        model.forward_features(x, upto="layer9")


def test_resnet50_layer3_maps_are_asen_sized():
    model = create_backbone("resnet50").eval()
    with torch.no_grad():
        maps = model.forward_features(torch.randn(1, 3, 224, 224), upto="layer3")
    assert maps.shape == (1, 1024, 14, 14)


def test_alexnet_stops_at_fc7_before_relu():
    model = create_backbone("alexnet").eval()
    assert isinstance(model.classifier[-1], nn.Linear)
    assert model.classifier[-1].out_features == 4096
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    assert (out < 0).any()  # no ReLU after fc7


def test_compact_is_small_and_trains_in_batch_mode():
    model = create_backbone("compact")
    n_params = sum(p.numel() for p in model.parameters())
    assert 300_000 <= n_params <= 1_000_000
    out = model(torch.randn(4, 3, 128, 128))
    out.sum().backward()
    assert out.shape == (4, 256)


def test_unknown_name_lists_the_available_ones():
    with pytest.raises(ValueError, match="available: alexnet"):
        create_backbone("vgg99")


def test_register_backbone(monkeypatch):
    monkeypatch.setattr(backbones, "_BACKBONES", dict(backbones._BACKBONES))

    @register_backbone(name="tiny_test")
    def tiny(pretrained=False, width=4):
        net = nn.Sequential(nn.Conv2d(3, width, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        net.out_dim = width
        return net

    assert "tiny_test" in list_backbones()
    assert create_backbone("tiny_test", width=6)(torch.randn(1, 3, 8, 8)).shape == (1, 6)
    with pytest.raises(ValueError, match="already registered"):
        register_backbone(tiny, name="tiny_test")


def test_local_weights_round_trip(tmp_path):
    torch.manual_seed(0)
    source = create_backbone("compact")
    with torch.no_grad():
        for p in source.parameters():
            p.add_(torch.randn_like(p))
    path = tmp_path / "compact.pt"
    torch.save(source.state_dict(), path)
    loaded = create_backbone("compact", weights_path=path)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(source.eval()(x), loaded.eval()(x))


def test_torchvision_checkpoint_loads_without_its_head(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18-torchvision.pth"
    torch.save(tv.state_dict(), path)  # includes fc.weight / fc.bias
    model = create_backbone("resnet18", weights_path=str(path))
    assert torch.equal(model.conv1.weight, tv.conv1.weight)
    assert torch.equal(model.layer4[1].bn2.running_var, tv.layer4[1].bn2.running_var)


def test_wrong_weights_file_names_the_keys(tmp_path):
    path = tmp_path / "compact.pt"
    torch.save(create_backbone("compact").state_dict(), path)
    with pytest.raises(RuntimeError, match=r"missing keys \[.*conv1\.weight.*unexpected keys \[.*features\.0"):
        create_backbone("resnet18", weights_path=path)

    narrow = tmp_path / "narrow.pt"
    torch.save(create_backbone("compact", channels=(8, 16)).state_dict(), narrow)
    with pytest.raises(RuntimeError, match="missing keys"):
        create_backbone("compact", weights_path=narrow)

    other = tmp_path / "other_widths.pt"
    torch.save(create_backbone("compact", channels=(16, 64, 128, 192, 256)).state_dict(), other)
    with pytest.raises(RuntimeError, match="wrong shape.*features.0.weight"):
        create_backbone("compact", weights_path=other)

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="could not read backbone weights from .*garbage.pt"):
        create_backbone("compact", weights_path=garbage)

    with pytest.raises(FileNotFoundError, match="missing.pt"):
        create_backbone("compact", weights_path=tmp_path / "missing.pt")


def test_pretrained_download_failure_says_to_pass_a_local_file(monkeypatch):
    def offline(name):
        raise OSError("network unreachable")

    monkeypatch.setattr(torchvision.models, "get_model_weights", offline)
    with pytest.raises(RuntimeError, match="weights_path"):
        create_backbone("resnet18", pretrained=True)


def test_pretrained_uses_torchvision_weights_api(monkeypatch):
    torch.manual_seed(0)
    reference = torchvision.models.resnet18(weights=None)

    class FakeWeights:
        def get_state_dict(self, progress=False):
            return reference.state_dict()

    class FakeEnum:
        DEFAULT = FakeWeights()

    requested = []
    monkeypatch.setattr(torchvision.models, "get_model_weights", lambda name: requested.append(name) or FakeEnum)
    model = create_backbone("resnet18", pretrained=True)
    assert requested == ["resnet18"]
    assert torch.equal(model.conv1.weight, reference.conv1.weight)


def test_pretrained_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="no pretrained weights"):
        create_backbone("compact", pretrained=True)
    with pytest.raises(ValueError, match="not both"):
        create_backbone("resnet18", pretrained=True, weights_path=tmp_path / "w.pt")
