"""``Platform.browser``: the project's bucket, its credentials issued on first use (what "My files" uses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sardonyx.errors import Forbidden
from sardonyx.platform import Platform
from sardonyx.runtimes.fake import FakeRuntime
from sardonyx.settings import Settings
from sardonyx.state import StateStore
from sardonyx.storage import CredentialIssuer, SeaweedFS

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_browsing_the_personal_bucket(seaweedfs: SeaweedFS, tmp_path: Path) -> None:
    store = StateStore(":memory:")
    settings = Settings(data_dir=tmp_path, login="browser-user")
    platform = Platform(
        settings, store=store, runtime=FakeRuntime(store), credentials=CredentialIssuer(seaweedfs.endpoint, store)
    )
    browser = await platform.browser(platform.user)
    assert browser.bucket == "user-browser-user"
    browser.upload("notes/hello.txt", b"hello")
    assert [o.key for o in browser.list("notes").objects] == ["notes/hello.txt"]
    assert store.load_credentials("user-browser-user") is not None
    with pytest.raises(Forbidden):
        await platform.browser(platform.user, "projet-other")
