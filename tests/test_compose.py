"""docker-compose.yml and the service Dockerfiles agree with the architecture (docs/architecture.md).

No Docker engine runs in CI, so these tests read the files: ports, profiles, Redis DBs, health
checks, startup order and secrets are checked against the tables of docs/architecture.md.
"""

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERIGNORE = REPO / ".dockerignore"
ARCHITECTURE = REPO / "docs" / "architecture.md"

# docs/architecture.md, "Services": name -> (port, compose profile or None).
# ollama is the local model server: a core service, so chat works with no provider key.
SEED_SERVICES: dict[str, tuple[int, str | None]] = {
    "orchestrator": (8000, None),
    "llm-gateway": (8001, None),
    "memory-service": (8002, None),
    "chat-api": (8080, None),
    "dashboard": (3000, None),
    "postgres": (5432, None),
    "redis": (6379, None),
    "recovery": (8888, None),
    "chat-bridge": (8090, "bridges"),
    "cortex": (8100, None),
    "intel-worker": (8110, None),
    "knowledge-worker": (8120, "knowledge"),
    "voice-service": (8130, "voice"),
    "ollama": (11434, None),
}
# docs/architecture.md, "Redis databases".
REDIS_DBS: dict[str, int] = {
    "memory-service": 0,
    "llm-gateway": 1,
    "orchestrator": 2,
    "chat-api": 3,
    "chat-bridge": 4,
    "cortex": 5,
    "intel-worker": 6,
    "recovery": 7,
    "knowledge-worker": 8,
    "voice-service": 9,
}
PYTHON_SERVICES = sorted(REDIS_DBS)
INFRA_SERVICES = ["postgres", "redis", "ollama"]
SEED_OPT_IN_PROFILES = {"bridges", "knowledge", "voice"}
SERVICES_WITH_DATABASE = {"orchestrator", "memory-service", "cortex", "recovery"}
# Startup order: every edge waits for a healthy dependency.
EXPECTED_DEPENDENCIES: dict[str, set[str]] = {
    "llm-gateway": {"redis", "ollama"},
    "memory-service": {"postgres", "redis", "llm-gateway"},
    "orchestrator": {"postgres", "redis", "llm-gateway", "memory-service"},
    "chat-api": {"orchestrator", "redis"},
    "chat-bridge": {"orchestrator", "redis"},
    "cortex": {"postgres", "redis", "orchestrator"},
    "intel-worker": {"redis", "orchestrator"},
    "knowledge-worker": {"redis", "orchestrator"},
    "voice-service": {"redis", "orchestrator"},
    "recovery": {"postgres", "redis"},
    "dashboard": {"recovery"},
}
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD")
ENV_REFERENCE = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:?[-?][^}]*)?\}$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def published_ports(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip or "", host port, container port) for each published port."""
    published = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            published.append((entry.get("host_ip", ""), int(entry["published"]), int(entry["target"])))
            continue
        *host_ip, host_port, container_port = str(entry).split(":")
        published.append((":".join(host_ip), int(host_port), int(container_port.split("/")[0])))
    return published


def healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return " ".join(test) if isinstance(test, list) else test


def markdown_table(text: str, heading: str) -> list[list[str]]:
    """The body rows of the first table under `## heading`, each as its stripped cells."""
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip().strip("|").split("|") for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row] for row in rows[2:]]  # skip the header and the |---| line


def parse_architecture_tables(text: str) -> tuple[dict[str, tuple[int, str | None]], dict[str, int]]:
    """The service table (name -> port, profile) and the Redis table (service -> db) of docs/architecture.md."""
    ports = {row[0]: (int(row[1]), row[2] or None) for row in markdown_table(text, "Services")}
    dbs = {row[1]: int(row[0]) for row in markdown_table(text, "Redis databases")}
    return ports, dbs


def test_service_and_redis_tables_agree_with_the_architecture_page() -> None:
    documented_ports, documented_dbs = parse_architecture_tables(ARCHITECTURE.read_text())
    assert documented_ports == SEED_SERVICES
    assert documented_dbs == REDIS_DBS


def test_launcher_service_list_agrees_with_the_architecture_page() -> None:
    from nova_common.stack import SERVICES

    documented_ports, _ = parse_architecture_tables(ARCHITECTURE.read_text())
    launcher = {spec.name: (spec.port, spec.profile) for spec in SERVICES}
    # The launcher names the local model server by its role; Compose runs it as the ollama container.
    launcher["ollama"] = launcher.pop("model-server")
    infra = {"postgres", "redis"}  # embedded by the kit rather than launched as services
    assert launcher == {name: spec for name, spec in documented_ports.items() if name not in infra}


@pytest.mark.parametrize("name", sorted(SEED_SERVICES))
def test_every_seed_service_is_defined_with_its_port_published(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    port, _ = SEED_SERVICES[name]
    assert name in services
    assert [(host, container) for _, host, container in published_ports(services[name])] == [(port, port)]


def test_infra_ports_are_published_on_loopback_only(services: dict[str, dict[str, Any]]) -> None:
    for name in INFRA_SERVICES:
        assert {ip for ip, _, _ in published_ports(services[name])} == {"127.0.0.1"}, name


def test_compose_defines_no_services_beyond_the_seed(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == set(SEED_SERVICES)


def test_opt_in_profiles_gate_exactly_their_services(services: dict[str, dict[str, Any]]) -> None:
    actual = {name: tuple(service.get("profiles", ())) for name, service in services.items()}
    expected = {name: (profile,) if profile else () for name, (_, profile) in SEED_SERVICES.items()}
    assert actual == expected


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    missing = [name for name, service in services.items() if not service.get("healthcheck", {}).get("test")]
    assert missing == []


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_every_python_service_has_healthcheck_on_live_probe(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    command = healthcheck_command(services[name])
    port, _ = SEED_SERVICES[name]
    assert command.startswith("CMD /nova/.venv/bin/python -c")
    assert "urllib.request.urlopen" in command
    assert f"http://127.0.0.1:{port}/health/live" in command


def test_infra_and_dashboard_healthchecks_use_their_native_probes(
    services: dict[str, dict[str, Any]],
) -> None:
    assert healthcheck_command(services["postgres"]) == "CMD pg_isready -U nova -d nova"
    assert healthcheck_command(services["ollama"]) == "CMD ollama list"
    assert "wget -qO- http://127.0.0.1:3000/" in healthcheck_command(services["dashboard"])


def test_every_dependency_waits_for_a_healthy_existing_service(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must use the long form with a condition"
        for dependency, rule in depends_on.items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert rule.get("condition") == "service_healthy", f"{name} -> {dependency}"


def test_startup_order_matches_the_dependency_graph(services: dict[str, dict[str, Any]]) -> None:
    actual = {name: set(s["depends_on"]) for name, s in services.items() if s.get("depends_on")}
    assert actual == EXPECTED_DEPENDENCIES


def test_only_the_local_model_dependency_is_optional(services: dict[str, dict[str, Any]]) -> None:
    optional = {
        (name, dependency)
        for name, service in services.items()
        for dependency, rule in service.get("depends_on", {}).items()
        if rule.get("required") is False
    }
    assert optional == {("llm-gateway", "ollama")}


REDIS_PASSWORD_REFERENCE = r"\$\{REDIS_PASSWORD:\?run 'make up'[^}]+\}"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_each_python_service_uses_its_own_redis_db_with_the_password(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    url = environment_of(services[name])["REDIS_URL"]
    assert re.fullmatch(rf"redis://:{REDIS_PASSWORD_REFERENCE}@redis:6379/{REDIS_DBS[name]}", url), url


def test_redis_requires_the_password_in_protected_mode_without_it_on_a_command_line(
    services: dict[str, dict[str, Any]],
) -> None:
    redis_service = services["redis"]
    assert re.fullmatch(REDIS_PASSWORD_REFERENCE, environment_of(redis_service)["REDIS_PASSWORD"])
    command = " ".join(redis_service["command"])
    # The password travels as configuration on stdin, not as an argument `ps` would show.
    assert "redis-server - " in command and "\nrequirepass $$REDIS_PASSWORD\n" in command
    assert "--requirepass" not in command
    assert "--protected-mode yes" in command and "--appendonly yes" in command
    assert "docker-entrypoint.sh redis-server" in command  # the image still drops root
    assert (
        healthcheck_command(redis_service)
        == 'CMD-SHELL REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG'
    )


def test_postgres_initialises_with_password_logins_only(services: dict[str, dict[str, Any]]) -> None:
    env = environment_of(services["postgres"])
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert env["POSTGRES_INITDB_ARGS"] == "--auth-local=scram-sha-256 --auth-host=scram-sha-256"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_each_python_service_binds_all_interfaces_on_its_seed_port(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    env = environment_of(services[name])
    assert env["HOST"] == "0.0.0.0"
    assert env["PORT"] == str(SEED_SERVICES[name][0])


def test_only_table_owning_services_get_the_database_url(services: dict[str, dict[str, Any]]) -> None:
    with_database = {name for name in PYTHON_SERVICES if "DATABASE_URL" in environment_of(services[name])}
    assert with_database == SERVICES_WITH_DATABASE
    for name in SERVICES_WITH_DATABASE:
        url = environment_of(services[name])["DATABASE_URL"]
        assert re.fullmatch(r"postgresql://nova:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/nova", url)


def test_peer_urls_point_at_compose_service_names_and_seed_ports(compose: dict[str, Any]) -> None:
    env = compose["x-nova-env"]
    expected = {
        "ORCHESTRATOR_URL": "orchestrator",
        "LLM_GATEWAY_URL": "llm-gateway",
        "MEMORY_SERVICE_URL": "memory-service",
        "CHAT_API_URL": "chat-api",
        "CHAT_BRIDGE_URL": "chat-bridge",
        "CORTEX_URL": "cortex",
        "INTEL_WORKER_URL": "intel-worker",
        "KNOWLEDGE_WORKER_URL": "knowledge-worker",
        "VOICE_SERVICE_URL": "voice-service",
        "RECOVERY_URL": "recovery",
    }
    for variable, name in expected.items():
        assert env[variable] == f"http://{name}:{SEED_SERVICES[name][0]}"
    assert env["LOCAL_MODEL_URL"] == "${LOCAL_MODEL_URL:-http://ollama:11434}"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_every_python_service_gets_the_shared_env_and_an_optional_env_file(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], name: str
) -> None:
    env = environment_of(services[name])
    for variable, value in compose["x-nova-env"].items():
        assert env[variable] == str(value), f"{name}: {variable}"
    assert services[name]["env_file"] == [{"path": ".env", "required": False}]


def test_no_service_hard_codes_a_secret(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for variable, value in environment_of(service).items():
            if SECRET_NAME.search(variable):
                assert ENV_REFERENCE.match(value), f"{name}: {variable} must be a ${{...}} reference"


def test_generated_secrets_fail_fast_with_a_hint_when_missing(services: dict[str, dict[str, Any]]) -> None:
    postgres = environment_of(services["postgres"])
    orchestrator = environment_of(services["orchestrator"])
    for value in (
        postgres["POSTGRES_PASSWORD"],
        environment_of(services["redis"])["REDIS_PASSWORD"],
        orchestrator["NOVA_ADMIN_SECRET"],
        orchestrator["NOVA_SERVICE_TOKEN"],
    ):
        assert re.match(r"^\$\{[A-Z_]+:\?run 'make up'", value), value


def test_every_service_restarts_unless_stopped_with_rotated_logs(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name
        assert service["logging"]["driver"] == "json-file", name
        assert {"max-size", "max-file"} <= set(service["logging"]["options"]), name


def test_infra_images_are_pgvector_pg16_and_redis_7(services: dict[str, dict[str, Any]]) -> None:
    assert services["postgres"]["image"] == "pgvector/pgvector:pg16"
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "nova"
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "nova"
    assert services["redis"]["image"].startswith("redis:7")
    assert "--appendonly yes" in " ".join(services["redis"]["command"])
    assert services["ollama"]["image"].startswith("ollama/ollama")


def test_named_volumes_used_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    used = {
        str(mount).split(":")[0]
        for service in services.values()
        for mount in service.get("volumes", [])
        if not str(mount).startswith((".", "/", "~", "$"))
    }
    assert used == set(compose["volumes"])
    assert used == {"postgres-data", "redis-data", "ollama-data", "nova-workspace", "recovery-backups"}


def test_orchestrator_may_create_the_user_namespaces_its_tool_jail_needs(
    services: dict[str, dict[str, Any]],
) -> None:
    assert "seccomp=unconfined" in services["orchestrator"]["security_opt"]


def test_recovery_reaches_backups_workspace_env_file_and_docker(services: dict[str, dict[str, Any]]) -> None:
    recovery = services["recovery"]
    env = environment_of(recovery)
    mounts = {str(m).split(":")[1]: str(m).split(":")[0] for m in recovery["volumes"]}
    assert mounts[env["BACKUP_DIR"]] == "recovery-backups"
    assert mounts[env["NOVA_WORKSPACE"]] == "nova-workspace"
    assert mounts[env["NOVA_ENV_FILE"]] == "./.env"
    assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"


def test_orchestrator_keeps_its_workspace_on_a_named_volume(services: dict[str, dict[str, Any]]) -> None:
    orchestrator = services["orchestrator"]
    assert "nova-workspace:/workspace" in orchestrator["volumes"]
    assert environment_of(orchestrator)["NOVA_WORKSPACE"] == "/workspace"


@pytest.mark.parametrize(
    "name",
    ["dashboard", *PYTHON_SERVICES],
)
def test_every_build_dockerfile_exists_on_disk(services: dict[str, dict[str, Any]], name: str) -> None:
    build = services[name]["build"]
    assert build["context"] == "."
    assert (REPO / build["dockerfile"]).is_file(), f"missing {build['dockerfile']}"


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_python_service_dockerfile_is_slim_non_root_and_probes_live_endpoint(
    services: dict[str, dict[str, Any]], name: str
) -> None:
    dockerfile = services[name]["build"]["dockerfile"]
    assert dockerfile == f"{name}/Dockerfile"
    text = (REPO / dockerfile).read_text()
    port, _ = SEED_SERVICES[name]
    package = name.replace("-", "_")
    assert re.search(r"^FROM python:3\.12-slim$", text, re.M)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in {"root", "0"}
    assert "--uid 10001" in text
    assert re.search(rf"^HEALTHCHECK .*\n?.*http://127\.0\.0\.1:{port}/health/live", text, re.M)
    assert re.search(rf"^EXPOSE {port}$", text, re.M)
    assert f'CMD ["/nova/.venv/bin/python", "-m", "{package}"]' in text
    assert f"uv sync --frozen --no-dev --package {name}" in text


@pytest.mark.parametrize("name", PYTHON_SERVICES)
def test_python_service_dockerfile_copies_every_workspace_member_manifest(name: str) -> None:
    # uv resolves the whole workspace, so the cached dependency layer needs every member's manifest.
    members = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    text = (REPO / name / "Dockerfile").read_text()
    assert "COPY pyproject.toml uv.lock ./" in text
    for member in members:
        assert f"COPY {member}/pyproject.toml {member}/" in text, member


def test_build_context_excludes_secrets_and_local_state() -> None:
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines()}
    for required in (
        ".git",
        ".env",
        "data/",
        "**/.venv",
        "**/node_modules",
        "**/__pycache__",
        "dashboard/dist",
    ):
        assert required in patterns, required
    assert not patterns & {"uv.lock", "pyproject.toml", "*.toml"}


def test_postgres_has_the_shared_buffers_of_the_embedded_server_in_compose_and_kubernetes(
    services: dict[str, dict[str, Any]],
) -> None:
    from nova_common.embedded import SHARED_BUFFERS

    setting = f"shared_buffers={SHARED_BUFFERS}"
    assert services["postgres"]["command"] == ["postgres", "-c", setting]
    documents = yaml.safe_load_all(
        (REPO / "deploy/kubernetes/components/datastores/postgres.yaml").read_text()
    )
    [statefulset] = [d for d in documents if d and d["kind"] == "StatefulSet"]
    [container] = statefulset["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["postgres", "-c", setting]
