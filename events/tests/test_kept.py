"""``events.kept.Kept``: a value is used again only under the version it was read under, young
enough, and the store empties itself before it would hold more than its size."""

from events import kept as kept_module
from events.kept import Kept


def test_a_kept_value_holds_under_its_version_and_age_alone(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(kept_module.time, "monotonic", lambda: clock[0])
    kept = Kept(max_age_s=30, max_size=10)
    kept.keep("a", "v1", [1])
    kept.keep("b", None, [2])  # no version: not kept
    assert (kept.find("a", "v1"), kept.find("a", "v2"), kept.find("a", None)) == ([1], None, None)
    assert "b" not in kept
    clock[0] += 30
    assert kept.find("a", "v1") is None


def test_the_store_is_bounded_by_the_size_of_what_it_holds():
    kept = Kept(max_age_s=30, max_size=5, size=len)
    kept.keep("a", 1, [1, 2, 3])
    kept.keep("a", 1, [1, 2])  # replaces: 2 held, not 5
    kept.keep("b", 1, [1, 2, 3])
    assert (sorted(kept), kept.held) == (["a", "b"], 5)
    kept.keep("c", 1, [1])  # over 5: emptied first
    assert (sorted(kept), kept.held) == (["c"], 1)
    kept.keep("d", 1, list(range(6)))  # larger than the whole store: never kept
    assert "d" not in kept and kept.held == 1
