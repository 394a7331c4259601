"""The web process freezes its started heap before serving: the collector no longer walks the
application's own objects (modules, settings, URLconf) on every full collection, and young
collections come every 10,000 new containers, not 700."""

import gc
import sys

import pytest
from daphne import server as daphne_server
from daphne.cli import CommandLineInterface

from analytics_site import serve


@pytest.fixture
def collector():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_freezing_puts_what_is_alive_out_of_the_collectors_reach(collector):
    gc.collect()  # what earlier tests left behind is not alive
    alive = len(gc.get_objects())
    serve.freeze_heap()
    assert gc.get_freeze_count() >= alive * 0.9
    assert len(gc.get_objects()) < alive * 0.1  # what the collector still walks
    assert gc.get_threshold() == serve.GC_THRESHOLDS == (10_000, 10, 10)


def test_the_web_process_serves_through_the_freezing_server(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["serve", "--help"])
    monkeypatch.setattr(CommandLineInterface, "server_class", CommandLineInterface.server_class)
    monkeypatch.setattr(daphne_server, "HTTPFactory", daphne_server.HTTPFactory)
    monkeypatch.delenv("DATABASE_POOL", raising=False)  # main sets it; restored afterwards
    with pytest.raises(SystemExit):
        serve.main()
    assert CommandLineInterface.server_class is serve.Server
    assert serve.Server.run.__qualname__ == "Server.run"
