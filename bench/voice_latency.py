"""How quickly voice-service starts talking, and how fast it listens.

One run starts an embedded Redis, a fake OpenAI audio API (tests/fakes, answering instantly) and voice-service
under uvicorn on loopback, then measures over HTTP, as the dashboard would call it:

- time to first audio byte for a 200-character reply, with the offline voice (eSpeak NG, mp3 and wav) and
  through the provider fake (what the service adds in front of a cloud provider);
- total synthesis time for the same reply;
- transcription real-time factor (processing time / audio duration, below 1 is faster than real time) of the
  offline recogniser (PocketSphinx) on the offline voice's own 200-character reply, and through the fake.

    uv run python bench/voice_latency.py [--runs 20]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import wave
from io import BytesIO
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakes.openai_audio_fake import FakeOpenAIAudio  # noqa: E402
from fakes.server import serve_in_thread  # noqa: E402

from nova_common.embedded import EmbeddedRedis, free_port  # noqa: E402
from nova_common.logging import configure_logging  # noqa: E402

ADMIN_SECRET = "bench-admin-secret-0123456789"
OPENAI_KEY = "sk-bench"
# 200 characters, the length of a short spoken reply.
REPLY = (
    "Sure. The meeting moved to Thursday at ten, in the small room on the second floor. Please bring the "
    "printed budget and your notes from last week, and I will send everyone the new agenda tonight. Okay."
)
assert len(REPLY) == 200, len(REPLY)


def _percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def _synthesis(client: httpx.Client, body: dict[str, object]) -> tuple[float, float, bytes]:
    start = time.perf_counter()
    first = 0.0
    audio = b""
    with client.stream("POST", "/api/v1/voice/synthesize", json=body) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if chunk and not first:
                first = time.perf_counter() - start
            audio += chunk
    return first, time.perf_counter() - start, audio


def _transcription(client: httpx.Client, wav: bytes, provider: str) -> tuple[float, str]:
    start = time.perf_counter()
    response = client.post(
        "/api/v1/voice/transcribe",
        files={"file": ("reply.wav", wav, "audio/wav")},
        data={"provider": provider},
    )
    response.raise_for_status()
    return time.perf_counter() - start, response.json()["text"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="nova-voice-bench-") as work:
        redis = EmbeddedRedis(data_dir=Path(work) / "redis", port=free_port())
        redis.start()
        fake = FakeOpenAIAudio(api_key=OPENAI_KEY, transcript=REPLY)
        try:
            with serve_in_thread(fake.app) as upstream:
                os.environ["NOVA_ADMIN_SECRET"] = ADMIN_SECRET
                configure_logging("voice-service", "WARNING", "console")
                from voice_service.config import Settings
                from voice_service.main import create_app

                settings = Settings(
                    redis_url=redis.url,
                    openai_api_key=OPENAI_KEY,
                    voice_openai_base_url=f"{upstream.url}/v1",
                    voice_tts_requests_per_minute=100_000,
                )
                with (
                    serve_in_thread(create_app(settings)) as voice,
                    httpx.Client(
                        base_url=voice.url, headers={"X-Admin-Secret": ADMIN_SECRET}, timeout=120
                    ) as client,
                ):
                    run(client, args.runs)
        finally:
            redis.stop()


def run(client: httpx.Client, runs: int) -> None:
    print(f"voice-service, {len(REPLY)}-character reply, {runs} runs each\n")
    # Warm-up: the offline engines load on first use (eSpeak NG ~50 ms, PocketSphinx ~0.5 s).
    _, _, wav = _synthesis(client, {"text": REPLY, "format": "wav", "provider": "offline"})
    _transcription(client, wav, "offline")

    print("time to first audio byte / total")
    cases = [
        ("offline voice, mp3", {"text": REPLY, "format": "mp3", "provider": "offline"}),
        ("offline voice, wav (sent whole)", {"text": REPLY, "format": "wav", "provider": "offline"}),
        ("OpenAI fake, mp3", {"text": REPLY, "format": "mp3", "provider": "openai"}),
    ]
    for name, body in cases:
        firsts, totals = [], []
        for _ in range(runs):
            first, total, _ = _synthesis(client, body)
            firsts.append(first)
            totals.append(total)
        print(f"  {name:34s} first byte {_percentiles(firsts)}   total {_percentiles(totals)}")

    with wave.open(BytesIO(wav)) as audio:
        seconds = audio.getnframes() / audio.getframerate()
    print(f"\ntranscription of the offline reply ({seconds:.1f} s of audio)")
    for provider in ("offline", "openai"):
        took = []
        text = ""
        for _ in range(max(3, runs // 4)):
            elapsed, text = _transcription(client, wav, provider)
            took.append(elapsed)
        median = statistics.median(took)
        print(f"  {provider:34s} {median * 1000:7.1f} ms   real-time factor {median / seconds:.3f}")
        if provider == "offline":
            print(f"  {'':34s} heard: {text[:100]!r}")


if __name__ == "__main__":
    main()
