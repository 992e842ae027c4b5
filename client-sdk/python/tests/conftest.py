"""Fixtures: a real overlay (controller + 3 nodes on loopback) per module."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from overlay import Overlay  # noqa: E402


@pytest.fixture(scope="module")
def overlay():
    o = Overlay()
    try:
        for i in range(1, 4):
            o.start_node(f"n{i}")
        yield o
    finally:
        o.close()


@pytest.fixture
def group(request):
    """A group name of its own for each test."""
    return "py." + request.node.name.replace("[", ".").replace("]", "").replace("_", "-")[:60]
