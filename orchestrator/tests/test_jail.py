"""The jail shell and git commands run in: what it hides, what it limits, and that it never runs without one."""

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from nova_common.testing import eventually
from nova_contracts.orchestrator import SandboxTier
from orchestrator.tools.jail import JailUnavailable, Limits, RunResult, run_in_sandbox
from orchestrator.tools.sandbox import Sandbox, build_sandbox

SYSTEM_VIEW = {
    "bin",
    "dev",
    "etc",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "proc",
    "sbin",
    "tmp",
    "usr",
    "workspace",
}


def _sh(sandbox: Sandbox, command: str, **limits: int) -> RunResult:
    settings = {"wall_seconds": 20, "cpu_seconds": 20, **limits}
    return asyncio.run(
        run_in_sandbox(
            sandbox,
            ["/bin/sh", "-c", command],
            cwd=sandbox.require_root(),
            env={"PATH": "/usr/bin:/bin", "HOME": "/workspace"},
            limits=Limits(**settings),
        )
    )


@pytest.fixture
def sandbox(workspace: Path) -> Sandbox:
    return build_sandbox(SandboxTier.WORKSPACE, workspace=workspace, nova_root=workspace, allow_host=False)


def test_the_jail_shows_only_system_dirs_and_the_workspace(sandbox: Sandbox) -> None:
    result = _sh(sandbox, "pwd; ls /")
    lines = result.stdout.decode().split()
    assert result.exit_code == 0 and lines[0] == "/workspace"
    assert set(lines[1:]) <= SYSTEM_VIEW and "workspace" in lines[1:]
    listing = _sh(sandbox, "ls /etc").stdout.decode().split()
    assert "shadow" not in listing and "passwd" in listing


def test_a_path_built_at_run_time_does_not_reach_the_parent_folders_env(
    sandbox: Sandbox, workspace: Path
) -> None:
    (workspace.parent / ".env").write_text("NOVA_ADMIN_SECRET=parent-secret\n")
    result = _sh(sandbox, "P=..; cat $P/.env; cat $P/$P/.env; cat /workspace/../.env")
    assert b"parent-secret" not in result.output
    assert result.exit_code != 0 and b"No such file" in result.stderr


def test_proc_shows_neither_the_orchestrators_environment_nor_its_processes(sandbox: Sandbox) -> None:
    os.environ["NOVA_JAIL_PROBE"] = "proc-leak"
    try:
        result = _sh(
            sandbox,
            f"cat /proc/{os.getpid()}/environ; P=/proc; cat $P/1/environ; cat /proc/*/environ; ls /proc",
        )
    finally:
        del os.environ["NOVA_JAIL_PROBE"]
    assert b"proc-leak" not in result.output
    pids = [name for name in result.stdout.decode().split() if name.isdigit()]
    # Only the jail's own few processes (bwrap's init, the shell, ls), none of the host's.
    assert 0 < len(pids) < 10


def test_writing_outside_the_workspace_fails(sandbox: Sandbox, tmp_path: Path) -> None:
    marker = f"jail-escape-{os.getpid()}"
    result = _sh(
        sandbox,
        f"echo x > {tmp_path}/{marker}; echo x > ../{marker}; touch /usr/{marker}; echo x > /tmp/{marker}; "
        f"ls /tmp",
    )
    assert not (tmp_path / marker).exists()
    assert not Path("/usr", marker).exists()
    # The jail's /tmp is its own: the file was written there, and the host's /tmp never saw it.
    assert marker in result.stdout.decode() and not Path("/tmp", marker).exists()


def test_the_jail_has_no_network_but_loopback(sandbox: Sandbox) -> None:
    interfaces = [
        line.split(":")[0].strip()
        for line in _sh(sandbox, "cat /proc/net/dev").stdout.decode().splitlines()[2:]
    ]
    assert interfaces == ["lo"]


def test_files_made_in_the_jail_belong_to_the_service_and_stay_usable(
    sandbox: Sandbox, workspace: Path
) -> None:
    result = _sh(sandbox, "id -u; mkdir -p out && echo made > out/file.txt")
    assert result.stdout.decode().strip() == "65534"
    made = workspace / "out" / "file.txt"
    assert made.stat().st_uid == os.getuid() and made.read_text() == "made\n"
    made.write_text("changed by the service\n")
    assert _sh(sandbox, "cat out/file.txt").stdout == b"changed by the service\n"


@pytest.mark.parametrize("command", ["yes", "cat /dev/zero"])
def test_endless_output_is_cut_at_the_cap_and_the_command_killed(sandbox: Sandbox, command: str) -> None:
    result = _sh(sandbox, command, output_bytes=100_000)
    assert result.truncated and result.exit_code is None and not result.timed_out
    assert len(result.output) == 100_000


def test_the_wall_clock_kills_every_process_of_the_jail(sandbox: Sandbox) -> None:
    result = _sh(sandbox, "sleep 987654 & sleep 987653 & sleep 987652", wall_seconds=1)
    assert result.timed_out and result.exit_code is None

    def left() -> list[str]:
        found = []
        for pid in os.listdir("/proc"):
            try:
                if pid.isdigit() and b"98765" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    found.append(pid)
            except OSError:  # exited while we looked
                continue
        return found

    # The jail's PID namespace goes down with its init, which the kernel finishes asynchronously: poll briefly.
    eventually(lambda: left() == [], timeout=10, what="the jail's background sleeps to be gone")


def test_file_size_limit_stops_a_disk_filler(sandbox: Sandbox, workspace: Path) -> None:
    _sh(sandbox, "head -c 5000000 /dev/zero > big", file_size_bytes=1_000_000)
    assert (workspace / "big").stat().st_size <= 1_000_000


def test_the_nova_tier_masks_the_checkouts_secrets(tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    (checkout / "data" / "pg").mkdir(parents=True)
    (checkout / "data" / "pg" / "db").write_text("database-bytes")
    (checkout / ".env").write_text("NOVA_ADMIN_SECRET=checkout-secret")
    (checkout / "certs").mkdir()
    (checkout / "certs" / "server.pem").write_text("PRIVATE-KEY")
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    with (checkout / ".git" / "config").open("a") as config:
        config.write('[remote "origin"]\n\turl = https://user:token-secret@example.com/x\n')
    (checkout / "README.md").write_text("visible")
    nova = build_sandbox(SandboxTier.NOVA, workspace=tmp_path / "ws", nova_root=checkout, allow_host=False)
    result = _sh(
        nova, "cat README.md; cat .env; cat data/pg/db; cat certs/server.pem; cat .git/config; ls data"
    )
    assert b"visible" in result.stdout
    for secret in (b"checkout-secret", b"database-bytes", b"PRIVATE-KEY", b"token-secret", b"pg"):
        assert secret not in result.stdout, secret
    # The masked files read as empty, so git still works on the checkout (its config just holds nothing).
    status = _sh(nova, "git status --short")
    assert status.exit_code == 0 and b"README.md" in status.stdout, status


def test_without_bubblewrap_commands_are_refused_not_run_unjailed(
    sandbox: Sandbox, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-bwrap"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(JailUnavailable, match="apt-get install bubblewrap"):
        _sh(sandbox, "touch ran-unjailed")
    assert not (workspace / "ran-unjailed").exists()


def test_a_bubblewrap_that_fails_its_self_test_is_refused_with_its_reason(
    sandbox: Sandbox, workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "broken-bwrap"
    broken.mkdir()
    (broken / "bwrap").write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    (broken / "bwrap").chmod(0o755)
    (broken / "prlimit").symlink_to("/usr/bin/prlimit")
    monkeypatch.setenv("PATH", f"{broken}:/usr/bin:/bin")
    with pytest.raises(JailUnavailable, match="No permissions to create new namespace"):
        _sh(sandbox, "touch ran-unjailed")
    assert not (workspace / "ran-unjailed").exists()
