"""Hardware detection, a backend/model recommendation, and stopping/starting the local model server with a
drain of the gateway's in-flight local requests first.

Switching to another backend kind (Ollama to vLLM, say) and publishing it where the gateway reads its config
(`inference.backend` in platform config) is not done here yet: the platform setting belongs to the
orchestrator's config API.
"""

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from nova_contracts.recovery import BackendState, Gpu, Hardware, InferenceRecommendation
from recovery.config import Settings
from recovery.services.managers import ServiceManager


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, _, rest = line.partition(":")
            values[name] = int(rest.split()[0]) // 1024 if rest.split() else 0
    except OSError:
        pass
    return values


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def _run(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def _nvidia() -> list[Gpu]:
    out = _run(["nvidia-smi", "--query-gpu=name,memory.total,memory.used", "--format=csv,noheader,nounits"])
    gpus = []
    for line in (out or "").splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            total = int(parts[1]) if parts[1].isdigit() else None
            used = int(parts[2]) if parts[2].isdigit() else None
            gpus.append(Gpu(vendor="nvidia", name=parts[0], memory_total_mb=total, memory_used_mb=used))
    return gpus


def _rocm() -> list[Gpu]:
    out = _run(["rocm-smi", "--showproductname"])
    names = [line.partition(":")[2].strip() for line in (out or "").splitlines() if "Card series" in line]
    return [Gpu(vendor="amd", name=name) for name in names]


def detect_hardware(data_dir: Path) -> Hardware:
    memory = _meminfo()
    target = data_dir if data_dir.exists() else Path.cwd()
    disk = shutil.disk_usage(target)
    return Hardware(
        cpu_model=_cpu_model(),
        cpu_count=os.cpu_count() or 1,
        ram_total_mb=memory.get("MemTotal", 0),
        ram_available_mb=memory.get("MemAvailable", 0),
        disk_free_mb=disk.free // 2**20,
        disk_total_mb=disk.total // 2**20,
        gpus=_nvidia() + _rocm(),
    )


def recommend(hardware: Hardware) -> InferenceRecommendation:
    """Rules of thumb: the model must fit the memory it runs in with room for the context."""
    vram = max((g.memory_total_mb or 0 for g in hardware.gpus), default=0)
    if any(g.vendor == "nvidia" for g in hardware.gpus) and vram >= 20_000:
        return InferenceRecommendation(
            backend="vllm", model="Qwen/Qwen2.5-14B-Instruct-AWQ", reason=f"NVIDIA GPU with {vram} MB"
        )
    if hardware.gpus and vram >= 7_000:
        return InferenceRecommendation(backend="ollama", model="qwen2.5:7b", reason=f"GPU with {vram} MB")
    ram = hardware.ram_available_mb
    if ram >= 12_000:
        return InferenceRecommendation(
            backend="ollama", model="qwen2.5:7b", reason=f"CPU only, {ram} MB free RAM"
        )
    if ram >= 4_000:
        return InferenceRecommendation(
            backend="ollama", model="qwen2.5:1.5b", reason=f"CPU only, {ram} MB free RAM"
        )
    return InferenceRecommendation(
        backend="llamacpp",
        model="smollm2-135m",
        reason=f"little memory ({ram} MB free): the bundled tiny model",
    )


async def drain(gateway_url: str, wait_seconds: float) -> tuple[bool, int | None]:
    """Wait until the gateway runs no local request (True), or give up after `wait_seconds` (False, last count)."""
    deadline = time.monotonic() + wait_seconds
    last: int | None = None
    async with httpx.AsyncClient(timeout=5) as client:
        while True:
            try:
                last = int(
                    (await client.get(f"{gateway_url.rstrip('/')}/health/inflight")).json()["local_inflight"]
                )
            except (httpx.HTTPError, ValueError, KeyError):
                return True, None  # no gateway to ask: nothing to wait for
            if last == 0:
                return True, 0
            if time.monotonic() > deadline:
                return False, last
            await asyncio.sleep(0.5)


async def stop_backend(settings: Settings, manager: ServiceManager) -> BackendState:
    drained, inflight = await drain(settings.llm_gateway_url, settings.inference_drain_seconds)
    await manager.stop_service(settings.model_server_service)
    detail = None if drained else f"stopped with {inflight} request(s) still running after the drain timeout"
    return BackendState(
        service=settings.model_server_service,
        running=False,
        drained=drained,
        inflight_at_stop=inflight,
        detail=detail,
    )


async def start_backend(settings: Settings, manager: ServiceManager) -> BackendState:
    await manager.start_service(settings.model_server_service)
    return BackendState(service=settings.model_server_service, running=True, drained=True)
