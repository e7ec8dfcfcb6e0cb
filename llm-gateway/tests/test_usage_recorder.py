"""The usage writer: records queued off the request path reach the Redis stream, in order, even across an outage."""

import asyncio
import json
import time
from pathlib import Path

import redis.asyncio as aioredis
from fakes import free_port
from structlog.testing import capture_logs

from llm_gateway.usage.recorder import BATCH_WINDOW_SECONDS, FLUSH_BATCH, UsageRecorder
from nova_common.embedded import EmbeddedRedis
from nova_common.redis import create_redis
from nova_contracts.llm import UsageRecord

STREAM = "nova:usage:events"


def _record(index: int) -> UsageRecord:
    return UsageRecord(
        provider="groq",
        model="groq/llama-3.3-70b-versatile",
        input_tokens=index,
        output_tokens=1,
        cost_usd=0.0,
        latency_ms=index,
        cache_hit=False,
    )


async def _written(client: aioredis.Redis) -> list[int]:
    entries = await client.xrange(STREAM)
    return [json.loads(fields["record"])["input_tokens"] for _, fields in entries]


async def test_every_record_queued_before_shutdown_is_written_in_order(
    gateway_env: dict[str, str], redis_base_url: str
) -> None:
    client = create_redis("llm-gateway", redis_base_url)
    recorder = UsageRecorder(client, STREAM, maxlen=100_000)
    recorder.start()
    count = FLUSH_BATCH * 2 + 234  # more than one batch is still queued when the stop begins
    for index in range(count):
        recorder.record(_record(index))
    await recorder.stop()
    try:
        assert await _written(client) == list(range(count))
    finally:
        await client.aclose()


async def test_a_steady_trickle_of_records_is_written_in_batches_not_one_command_each(
    gateway_env: dict[str, str], redis_base_url: str
) -> None:
    client = create_redis("llm-gateway", redis_base_url)
    await client.delete(STREAM)
    recorder = UsageRecorder(client, STREAM, maxlen=100_000)
    commands = 0
    append = recorder._append

    async def slow_append(**kwargs: object) -> object:
        nonlocal commands
        commands += 1
        await asyncio.sleep(0.005)  # a Redis a few milliseconds away: records keep arriving during each write
        return await append(**kwargs)

    recorder._append = slow_append  # type: ignore[assignment]
    recorder.start()
    count = 200
    started = time.monotonic()
    for index in range(
        count
    ):  # one record every millisecond or so, as a gateway under steady load makes them
        recorder.record(_record(index))
        await asyncio.sleep(0.001)
    elapsed = time.monotonic() - started
    await recorder.stop()
    try:
        assert await _written(client) == list(range(count))
        # About one command per batching window (plus the final one at stop), not one per few records.
        assert 1 <= commands <= elapsed / BATCH_WINDOW_SECONDS + 2, (commands, elapsed)
    finally:
        await client.aclose()


async def test_records_made_while_redis_is_down_are_written_once_it_is_back(
    gateway_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    redis = EmbeddedRedis(data_dir=tmp_path / "redis", port=port)
    client = create_redis("llm-gateway", redis.url, socket_connect_timeout=1)
    recorder = UsageRecorder(client, STREAM, maxlen=100_000)
    with capture_logs() as logs:
        recorder.start()
        for index in range(3):
            recorder.record(_record(index))
        await asyncio.sleep(0.3)  # the writer's first attempt fails: nothing listens on the port yet
    assert any(entry["event"] == "usage_flush_failed" for entry in logs)
    await asyncio.to_thread(redis.start)
    try:
        await recorder.stop()
        assert await _written(client) == [0, 1, 2]
    finally:
        await client.aclose()
        await asyncio.to_thread(redis.stop)
