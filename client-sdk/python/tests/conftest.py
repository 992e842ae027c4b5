"""Fixtures: a real overlay (controller + 3 nodes on loopback) per module."""

import pytest

from canopy.local import Overlay


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
