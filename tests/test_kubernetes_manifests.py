"""deploy/kubernetes renders, validates against the Kubernetes API schemas and matches docker-compose.yml.

No cluster and no kustomize binary come from the registries, so `render` below is a small Kustomize renderer
limited to what deploy/kubernetes uses: `resources` (files and directories), `components`, `namespace` and
JSON 6902 `patches` with a kind/name target. Where a `kubectl` with its built-in kustomize is installed, a
test checks that both render the same objects. `kubernetes-validate` checks every object (strict: unknown
fields fail) against the schemas of a fixed Kubernetes version.
"""

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from tests.test_compose import REDIS_DBS, SEED_SERVICES, environment_of

REPO = Path(__file__).resolve().parents[1]
KUBERNETES = REPO / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.33"
OVERLAYS = ["default", "bridges", "knowledge", "voice", "production"]
PROFILE_SERVICES = {"bridges": "chat-bridge", "knowledge": "knowledge-worker", "voice": "voice-service"}
# Compose's `ollama` is the model server; postgres and redis are StatefulSets of components/datastores.
APP_SERVICES = {name: port for name, (port, _) in SEED_SERVICES.items() if name not in ("postgres", "redis")}
CORE_SERVICES = {name for name, (_, profile) in SEED_SERVICES.items() if profile is None} - {
    "postgres",
    "redis",
}
Manifest = dict[str, Any]


def _load_yaml_documents(path: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _json_pointer_parts(path: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.lstrip("/").split("/")]


def _apply_json6902(target: Manifest, operations: list[dict[str, Any]]) -> None:
    for operation in operations:
        *parents, last = _json_pointer_parts(operation["path"])
        node: Any = target
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        op = operation["op"]
        if isinstance(node, list):
            if op == "add":
                node.insert(len(node) if last == "-" else int(last), copy.deepcopy(operation["value"]))
            elif op == "replace":
                node[int(last)] = copy.deepcopy(operation["value"])
            elif op == "remove":
                del node[int(last)]
            else:
                raise AssertionError(f"patch op {op!r} is not supported by this renderer")
        elif op in ("add", "replace"):
            if op == "replace":
                assert last in node, f"replace of a missing path {operation['path']}"
            node[last] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del node[last]
        else:
            raise AssertionError(f"patch op {op!r} is not supported by this renderer")


SUPPORTED_KEYS = {"apiVersion", "kind", "namespace", "resources", "components", "patches"}


def render(directory: Path) -> list[Manifest]:
    """The objects `kustomize build directory` produces, for the features deploy/kubernetes uses."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_KEYS
    assert not unsupported, f"{directory}: this renderer does not support {sorted(unsupported)}"
    objects: list[Manifest] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects += render(path) if path.is_dir() else _load_yaml_documents(path)
    for entry in kustomization.get("components", []):
        objects += render((directory / entry).resolve())
    for patch in kustomization.get("patches", []):
        target = patch["target"]
        matches = [
            o for o in objects if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]
        ]
        assert matches, f"{directory}: patch target {target} matches nothing"
        for match in matches:
            _apply_json6902(match, yaml.safe_load(patch["patch"]))
    if "namespace" in kustomization:
        for obj in objects:
            obj["metadata"]["namespace"] = kustomization["namespace"]
    return objects


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[Manifest]]:
    return {"base": render(KUBERNETES / "base")} | {
        overlay: render(KUBERNETES / "overlays" / overlay) for overlay in OVERLAYS
    }


def by_kind(objects: list[Manifest], kind: str) -> dict[str, Manifest]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def workloads(objects: list[Manifest]) -> dict[str, Manifest]:
    return by_kind(objects, "Deployment") | by_kind(objects, "StatefulSet")


def container_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "<from secret>") for e in container.get("env", [])}


def compose_services() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


@pytest.mark.parametrize("overlay", ["base", *OVERLAYS])
def test_every_object_validates_against_the_kubernetes_schemas(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    objects = rendered[overlay]
    assert objects
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), f"{overlay}: an object is defined twice"


def test_secret_template_validates_and_holds_no_real_secret() -> None:
    (secret,) = _load_yaml_documents(KUBERNETES / "secret.template.yaml")
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    assert all(value.count("<replace") == 1 for value in secret["stringData"].values())


def test_the_validator_refuses_an_unknown_field() -> None:
    # The schema check above would be worthless if strict validation let misspelt fields through.
    deployment = copy.deepcopy(next(iter(by_kind(render(KUBERNETES / "base"), "Deployment").values())))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl (its kustomize) on this machine")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_renderer_agrees_with_kubectl_kustomize(
    rendered: dict[str, list[Manifest]], overlay: str
) -> None:
    output = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES / "overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    expected = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(output) if o}
    ours = {(o["kind"], o["metadata"]["name"]): o for o in rendered[overlay]}
    assert ours == expected


def test_every_seed_service_has_a_deployment_and_service_on_the_compose_port(
    rendered: dict[str, list[Manifest]],
) -> None:
    compose = compose_services()
    for overlay in OVERLAYS:
        objects = rendered[overlay]
        deployments, services = by_kind(objects, "Deployment"), by_kind(objects, "Service")
        expected = CORE_SERVICES | ({PROFILE_SERVICES[overlay]} if overlay in PROFILE_SERVICES else set())
        assert expected <= set(deployments), f"{overlay}: missing {expected - set(deployments)}"
        for name in expected:
            port = APP_SERVICES[name]
            (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
            assert [p["containerPort"] for p in container["ports"]] == [port], name
            assert [p["port"] for p in services[name]["spec"]["ports"]] == [port], name
            assert services[name]["spec"]["selector"] == deployments[name]["spec"]["selector"]["matchLabels"]
            if "PORT" in environment_of(compose[name]):
                assert container_env(container)["PORT"] == environment_of(compose[name])["PORT"], name
        for store, port in (("postgres", 5432), ("redis", 6379)):
            assert [p["port"] for p in services[store]["spec"]["ports"]] == [port]
            assert store in by_kind(objects, "StatefulSet")
    for profile, service in PROFILE_SERVICES.items():
        others = [o for o in OVERLAYS if o not in (profile, "production")]
        assert all(service not in by_kind(rendered[o], "Deployment") for o in others), service
        assert compose[service]["profiles"] == [profile]


def test_each_python_service_uses_its_redis_database_and_the_compose_env_names(
    rendered: dict[str, list[Manifest]],
) -> None:
    compose = compose_services()
    objects = [o for overlay in OVERLAYS for o in rendered[overlay]]
    deployments = by_kind(objects, "Deployment")
    config = by_kind(rendered["default"], "ConfigMap")["nova-config"]["data"]
    for name, db in REDIS_DBS.items():
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        env = container_env(container) | config
        assert env["REDIS_URL"].endswith(f"@$(REDIS_ADDRESS)/{db}"), name
        assert environment_of(compose[name])["REDIS_URL"].endswith(f"/{db}"), name
        # Every variable Compose gives the service is given here too (from the ConfigMap or the Secret).
        missing = set(environment_of(compose[name])) - set(env) - {"NOVA_WORKSPACE"}
        assert not missing, f"{name} lacks {sorted(missing)}"
        assert ("DATABASE_URL" in env) == ("DATABASE_URL" in environment_of(compose[name])), name
    hosts = config["ALLOWED_HOSTS"].split(",")
    assert all(service in hosts for service in APP_SERVICES)


def test_python_services_probe_health_live_and_ready_with_an_allowed_host(
    rendered: dict[str, list[Manifest]],
) -> None:
    deployments = by_kind([o for overlay in OVERLAYS for o in rendered[overlay]], "Deployment")
    for name in [*REDIS_DBS, "orchestrator-worker"]:
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        liveness, readiness = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        assert (liveness["path"], readiness["path"]) == ("/health/live", "/health/ready"), name
        # The kubelet's default Host is the pod IP, which the services' Host check refuses.
        for probe in (liveness, readiness):
            assert {"name": "Host", "value": "localhost"} in probe["httpHeaders"], name


def test_every_pod_runs_non_root_without_capabilities_on_a_read_only_root(
    rendered: dict[str, list[Manifest]],
) -> None:
    production = rendered["production"]
    pods = {name: w["spec"]["template"]["spec"] for name, w in workloads(production).items()}
    pods["nova-migrations"] = by_kind(production, "Job")["nova-migrations"]["spec"]["template"]["spec"]
    for overlay in ("bridges", "knowledge", "voice"):
        pods |= {n: w["spec"]["template"]["spec"] for n, w in workloads(rendered[overlay]).items()}
    for name, pod in pods.items():
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"] + pod.get("initContainers", []):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert security["readOnlyRootFilesystem"] is True, name
            assert "limits" in container["resources"] and "requests" in container["resources"], name
    # Only the orchestrator's pods leave seccomp unconfined: bubblewrap's user namespaces (see the comment there).
    unconfined = {
        n for n, p in pods.items() if p["securityContext"]["seccompProfile"]["type"] != "RuntimeDefault"
    }
    assert unconfined == {"orchestrator", "orchestrator-worker"}


def test_production_splits_the_orchestrator_into_api_and_autoscaled_workers(
    rendered: dict[str, list[Manifest]],
) -> None:
    production = rendered["production"]
    deployments = by_kind(production, "Deployment")
    api = container_env(deployments["orchestrator"]["spec"]["template"]["spec"]["containers"][0])
    worker = container_env(deployments["orchestrator-worker"]["spec"]["template"]["spec"]["containers"][0])
    assert api["PIPELINE_WORKERS_ENABLED"] == "false" and worker["PIPELINE_WORKERS_ENABLED"] == "true"
    assert "orchestrator-worker" not in by_kind(production, "Service")
    hpa = by_kind(production, "HorizontalPodAutoscaler")["orchestrator-worker"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "orchestrator-worker"
    pdb_targets = {
        p["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for p in by_kind(production, "PodDisruptionBudget").values()
    }
    assert {name for name, d in deployments.items() if d["spec"]["replicas"] > 1} <= pdb_targets
    assert by_kind(production, "PersistentVolumeClaim")["nova-workspace"]["spec"]["accessModes"] == [
        "ReadWriteMany"
    ]
    (ingress,) = by_kind(production, "Ingress").values()
    backends = {p["backend"]["service"]["name"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]}
    assert backends == {"dashboard"}
    assert ingress["spec"]["rules"][0]["host"] in by_kind(production, "ConfigMap")["nova-config"]["data"][
        "ALLOWED_HOSTS"
    ].split(",")
    assert "nova-migrations" in by_kind(production, "Job")


# docs/architecture.md, "Who calls whom", plus what the code's clients call (memory-service embeds through
# llm-gateway, recovery reads every service's health, voice-service and chat-bridge use llm-gateway).
CALL_GRAPH: dict[str, set[str]] = {
    "dashboard": {"orchestrator", "llm-gateway", "memory-service", "chat-bridge", "recovery", "cortex", "voice-service"},
    "orchestrator": {"llm-gateway", "memory-service", "cortex"},
    "orchestrator-worker": {"llm-gateway", "memory-service", "cortex"},
    "llm-gateway": {"ollama", "orchestrator"},
    "memory-service": {"llm-gateway"},
    "chat-api": {"orchestrator"},
    "chat-bridge": {"orchestrator", "llm-gateway", "voice-service"},
    "cortex": {"orchestrator", "llm-gateway", "memory-service"},
    "intel-worker": {"orchestrator", "llm-gateway", "memory-service"},
    "knowledge-worker": {"orchestrator", "llm-gateway", "memory-service"},
    "voice-service": {"orchestrator", "llm-gateway"},
    "recovery": set(APP_SERVICES) - {"recovery", "dashboard"},
    "ollama": set(),
}  # fmt: skip


# Services that call third parties (model providers, feeds, crawled sites, chat platforms, speech APIs, MCP
# servers and web fetches, model downloads): the only ones with egress outside the cluster.
REACHES_INTERNET = {
    "llm-gateway", "orchestrator", "orchestrator-worker", "intel-worker", "knowledge-worker", "chat-bridge",
    "voice-service", "ollama",
}  # fmt: skip


def _selected(peer: dict[str, Any]) -> set[str]:
    if "ipBlock" in peer:
        return {"internet"}
    selector = peer.get("podSelector", {})
    if "matchLabels" in selector:
        labels = selector["matchLabels"]
        return {labels.get("app.kubernetes.io/name") or labels["k8s-app"]}
    return {v for e in selector.get("matchExpressions", []) for v in e["values"]}


def _policies_for(policies: list[Manifest], name: str) -> list[Manifest]:
    return [p for p in policies if not p["spec"]["podSelector"] or name in _selected(p["spec"])]


def test_network_policies_allow_exactly_the_call_graph(rendered: dict[str, list[Manifest]]) -> None:
    policies = list(by_kind(rendered["production"], "NetworkPolicy").values())
    default_deny = by_kind(rendered["production"], "NetworkPolicy")["default-deny"]["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    for name, callees in CALL_GRAPH.items():
        reached: set[str] = set()
        callers: set[str] = set()
        public = False
        for policy in _policies_for(policies, name):
            for rule in policy["spec"].get("egress", []):
                for peer in rule.get("to", []):
                    reached |= _selected(peer)
            for rule in policy["spec"].get("ingress", []):
                public |= "from" not in rule
                for peer in rule.get("from", []):
                    callers |= _selected(peer)
        datastores = {"postgres", "redis"} & reached
        assert "kube-dns" in reached, name
        assert ("internet" in reached) == (name in REACHES_INTERNET), name
        assert reached - datastores - {"kube-dns", "internet"} == callees, name
        assert callers == {c for c, targets in CALL_GRAPH.items() if name in targets}, name
        assert public == (name == "dashboard"), f"{name} must not be reachable from everywhere"
        uses_database = name in {
            "orchestrator",
            "orchestrator-worker",
            "memory-service",
            "cortex",
            "recovery",
        }
        assert ("postgres" in datastores) == uses_database, name
        assert ("redis" in datastores) == (name not in ("dashboard", "ollama")), name


def test_internet_egress_excludes_the_cluster_and_private_networks(
    rendered: dict[str, list[Manifest]],
) -> None:
    blocks = [
        peer["ipBlock"]
        for policy in by_kind(rendered["production"], "NetworkPolicy").values()
        for rule in policy["spec"].get("egress", [])
        for peer in rule.get("to", [])
        if "ipBlock" in peer
    ]
    assert blocks
    for block in blocks:
        # 169.254.0.0/16 holds the cloud metadata endpoint (169.254.169.254), the usual SSRF target.
        assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(block["except"])
