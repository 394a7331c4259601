"""Detectors by name. ``register`` is the class decorator; ``create`` builds one."""

from __future__ import annotations

from typing import Any

from .base import Detector

DETECTORS: dict[str, type[Detector]] = {}


def register(cls: type[Detector]) -> type[Detector]:
    if not cls.name or cls.name in DETECTORS:
        raise ValueError(f"detector name {cls.name!r} is empty or taken")
    DETECTORS[cls.name] = cls
    return cls


def create(name: str, sensitivity: str = "medium", **params: Any) -> Detector:
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; one of {', '.join(DETECTORS)}") from None
    return cls(sensitivity, **params)


def restore(state: dict[str, Any]) -> Detector:
    """A detector from its stored state."""
    return DETECTORS[state["detector"]]().load(state)


def listed() -> list[type[Detector]]:
    """The detectors a model may use (the benchmark's reference baselines are left out)."""
    return [cls for cls in DETECTORS.values() if cls.listed]
