"""PerHostPacer: one request per interval to each host, shared by intel-worker and knowledge-worker."""

import asyncio
import itertools
import time

import pytest

from nova_common.pacing import PerHostPacer

# asyncio may wake a sleeper up to its clock resolution early; spacing is checked with this much slack.
SLACK = 0.01


async def test_concurrent_requests_to_one_host_go_one_per_interval() -> None:
    pacer = PerHostPacer(0.2)
    started: list[float] = []

    async def request() -> None:
        await pacer.wait_for_url("https://blog.example/feed.xml")
        started.append(time.monotonic())

    await asyncio.gather(*(request() for _ in range(3)))
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert len(gaps) == 2 and all(gap >= 0.2 - SLACK for gap in gaps)


async def test_another_host_does_not_wait_for_a_busy_one() -> None:
    pacer = PerHostPacer(3600)
    await pacer.wait_for_url("https://a.example/one")
    # Bounded: were b.example paced with a.example, this would wait an hour.
    await asyncio.wait_for(pacer.wait_for_url("https://b.example/two"), 30)
    await asyncio.wait_for(pacer.wait_for_url("https://a.example:8443/three"), 30)


async def test_one_host_is_one_slot_whatever_the_path_or_letter_case() -> None:
    pacer = PerHostPacer(3600)
    await pacer.wait_for_url("https://Blog.Example/feed.xml")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pacer.wait_for_url("https://blog.example/other"), 0.3)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(pacer.wait("BLOG.EXAMPLE"), 0.3)


async def test_a_zero_interval_never_waits() -> None:
    pacer = PerHostPacer(0)
    for _ in range(3):
        await asyncio.wait_for(pacer.wait("a.example"), 30)
