"""``--pretrained imagenet``: torchvision's download, never fetched in tests; offline it says what to pass."""
import urllib.error

import pytest
import torch
import torch.hub
import torchvision

from detector.config import ModelConfig
from detector.models.detector import Detector
from detector.utils.errors import UserError


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """A torch hub cache with no weights in it, so the download is attempted (and intercepted)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def test_offline_the_error_names_the_option_and_says_to_pass_a_local_file(empty_hub, monkeypatch):
    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(UserError, match=r"--pretrained imagenet: could not download .*name resolution.*"
                                        r"pass a local state-dict file instead: --pretrained resnet18\.pth"):
        Detector(model=ModelConfig(pretrained="imagenet"))


def test_online_torchvisions_imagenet1k_v1_file_initialises_the_backbone(empty_hub, monkeypatch):
    imagenet = torchvision.models.resnet18(weights=None)
    fetched = []

    def download(url, dst, *args, **kwargs):   # stands in for the network: writes what the URL would hold
        fetched.append(url)
        torch.save(imagenet.state_dict(), dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", download)
    model = Detector(model=ModelConfig(pretrained="imagenet"))
    assert fetched == [torchvision.models.ResNet18_Weights.IMAGENET1K_V1.url]
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, imagenet.layer4[1].conv2.weight)
    Detector(model=ModelConfig(pretrained="imagenet"))   # the second time from the hub cache, no download
    assert len(fetched) == 1
