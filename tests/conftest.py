"""Suite-wide checks and the server the end-to-end and COS-client suites share; helpers live
in helpers.py."""
import pytest

from helpers import BIN


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    assert BIN.exists(), f"{BIN} not built: run `cargo build` first (or set PICOPS_BIN)"


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """`picops serve` in front of its embedded store, or of PICOPS_E2E_UPSTREAM when set."""
    from e2e.server import start_server

    srv = start_server(tmp_path_factory.mktemp("picops"))
    yield srv
    srv.proc.terminate()
    srv.proc.wait(timeout=30)
