"""Suite-wide checks; helpers live in helpers.py."""
import pytest

from helpers import BIN


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    assert BIN.exists(), f"{BIN} not built: run `cargo build` first (or set PICOPS_BIN)"
