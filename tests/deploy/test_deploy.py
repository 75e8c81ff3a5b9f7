"""deploy/: the manifests and the Helm chart validate offline against the Kubernetes schemas
(strict: unknown fields fail), a broken field is caught, and the picops configuration they
carry is accepted by picops itself."""
import os
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from e2e.server import free_port, wait_listening
from helpers import BIN

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "picops"
HELM = Path(os.environ.get("NODE_PATH", "/nonexistent")) / ".bin" / "helm"

pytestmark = pytest.mark.skipif(not HELM.exists() and not os.environ.get("CI"),
                                reason="helm not installed (scripts/test installs it with npm)")


def validate(*files):
    return subprocess.run(["kubernetes-validate", "--strict", "--quiet", *map(str, files)],
                          capture_output=True, text=True, timeout=300)


def render(*extra):
    p = subprocess.run([str(HELM), "template", "picops", str(CHART), "-f", str(CHART / "ci-values.yaml"), *extra],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_deploy_validate_script_passes():
    p = subprocess.run([str(ROOT / "deploy" / "validate")], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("broken", [
    ("containerPort: 8080", "containerPort: eighty"),          # wrong type
    ("readinessProbe:", "readynessProbe:"),                    # unknown field
    ("replicas: 3", "replicas: -3\n  minReadySeconds: ten"),   # wrong type nested in spec
])
def test_an_invalid_field_fails(tmp_path, broken):
    text = (ROOT / "deploy" / "k8s" / "gateway.yaml").read_text()
    assert broken[0] in text
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(broken[0], broken[1], 1))
    p = validate(bad)
    assert p.returncode != 0, p.stdout + p.stderr


def test_chart_values_of_the_wrong_type_fail(tmp_path):
    out = tmp_path / "chart.yaml"
    out.write_text(render("--set", "replicas=two"))
    assert validate(out).returncode != 0
    p = subprocess.run([str(HELM), "template", "picops", str(CHART)], capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "upstream.existingSecret" in p.stderr  # keys are required


def configs(docs):
    """(picops.toml, credentials.toml) carried by a list of manifests."""
    toml = creds = None
    for d in docs:
        if not d:
            continue
        data = {**d.get("data", {}), **d.get("stringData", {})}
        toml = data.get("picops.toml", toml)
        creds = data.get("credentials.toml", creds)
    return toml, creds


def serves(tmp_path, args, probe):
    """Start picops with `args` (plus listen addresses) and check the ops `probe` answers 200."""
    port, ops = free_port(), free_port()
    log = tmp_path / "log"
    args = [*args, "--listen", f"127.0.0.1:{port}", "--ops-listen", f"127.0.0.1:{ops}"]
    with open(log, "w") as f:
        proc = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT)
    try:
        wait_listening(ops, proc, log)
        assert requests.get(f"http://127.0.0.1:{ops}{probe}", timeout=10).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.parametrize("source", ["chart", "gateway.yaml", "sidecar.yaml"])
def test_picops_accepts_the_configuration_the_manifests_carry(tmp_path, source):
    if source == "chart":
        docs = list(yaml.safe_load_all(render()))
    else:
        docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / source).read_text()))
    toml, creds = configs(docs)
    assert creds, "every layout ships client credentials"
    (tmp_path / "credentials.toml").write_text(creds)
    args = [str(BIN), "serve", "--credentials-file", str(tmp_path / "credentials.toml"),
            "--data-dir", str(tmp_path / "data")]
    if toml:
        (tmp_path / "picops.toml").write_text(toml)
        args += ["--config", str(tmp_path / "picops.toml")]
    # The upstream is overridden by flags (nothing listens on the manifests' hosts here);
    # everything else is read from the files as the Pod would.
    args += ["--upstream", f"http://127.0.0.1:{free_port()}", "--upstream-access-key", "k", "--upstream-secret-key", "s"]
    serves(tmp_path, args, "/healthz")


def test_the_example_configuration_is_accepted(tmp_path):
    serves(tmp_path, [str(BIN), "serve", "--config", str(ROOT / "picops.example.toml"),
                      "--data-dir", str(tmp_path / "data")], "/readyz")
