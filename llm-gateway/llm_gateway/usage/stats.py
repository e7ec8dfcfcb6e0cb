"""In-process figures for the local backend: requests in flight (drain protocol) and a rolling window of
latency, time to first token and tokens/s (`/v1/inference/stats`). Per gateway process, by design: they
describe what this process is doing now, not history (that is what the usage stream is for)."""

import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

WINDOW_SECONDS = 300
MAX_SAMPLES = 1000


@dataclass(frozen=True)
class Sample:
    at: float
    latency_ms: float
    ttft_ms: float | None
    output_tokens: int
    ok: bool


class LocalInferenceStats:
    def __init__(self) -> None:
        self.inflight = 0
        self._samples: deque[Sample] = deque(maxlen=MAX_SAMPLES)

    @contextmanager
    def track(self) -> Iterator[None]:
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1

    def add(self, *, latency_ms: float, ttft_ms: float | None, output_tokens: int, ok: bool) -> None:
        self._samples.append(Sample(time.monotonic(), latency_ms, ttft_ms, output_tokens, ok))

    def summary(self) -> dict[str, float | int | None]:
        cutoff = time.monotonic() - WINDOW_SECONDS
        recent = [s for s in self._samples if s.at >= cutoff]
        ok = [s for s in recent if s.ok]
        ttfts = [s.ttft_ms for s in ok if s.ttft_ms is not None]
        rates = [s.output_tokens / (s.latency_ms / 1000) for s in ok if s.latency_ms > 0 and s.output_tokens]
        return {
            "requests": len(recent),
            "errors": len(recent) - len(ok),
            "avg_latency_ms": round(sum(s.latency_ms for s in ok) / len(ok), 1) if ok else None,
            "avg_ttft_ms": round(sum(ttfts) / len(ttfts), 1) if ttfts else None,
            "avg_tokens_per_second": round(sum(rates) / len(rates), 2) if rates else None,
        }
