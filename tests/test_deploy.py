"""The deployment files stay true to the repository: what the Dockerfile copies exists, its
entry point is the package's command, the compose file names images and services that fit
together. (CI has no Docker engine; deploy/local-cluster.sh, the same topology from local
processes, is run by the scale-out tests.)"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_the_dockerfile_copies_what_exists_and_runs_codeqr_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
        *sources, _target = line.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert 'ENTRYPOINT ["codeqr"]' in text
    assert "codeqr" in scripts
    assert re.search(r"^USER codeqr$", text, re.MULTILINE)
    assert "--frozen" in text  # the committed lock file, nothing newer


def test_the_compose_file_is_the_scale_out_topology() -> None:
    compose = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "app1", "app2", "nginx"} <= set(services)
    for name in ("app1", "app2"):
        env = services[name]["environment"]
        assert env["CODEQR_REDIS_URL"].startswith("redis://redis:")
        assert env["CODEQR_DATABASE_URL"].startswith("postgresql://")
        assert env["CODEQR_MIGRATE_ON_START"] == "false"  # the migrate service does it once
    nginx = (ROOT / "deploy/nginx.conf").read_text()
    assert "server app1:8000;" in nginx
    assert "server app2:8000;" in nginx
