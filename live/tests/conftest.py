import pytest

from live import services


@pytest.fixture
def memory_layer(settings):
    """The in-memory channel layer: the sockets and the broadcasts of one test process."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def healthy_layer(monkeypatch):
    """Each test starts with the channel layer seen as working (the view is per process)."""
    monkeypatch.setattr(services, "_health", services._layer_outage())
