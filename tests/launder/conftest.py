"""Launder tests write simulated impulse responses to a per-session cache, never to the user's."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_detector_cache(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("DETECTOR_CACHE", str(tmp_path_factory.mktemp("detector-cache")))
    yield
    patch.undo()
