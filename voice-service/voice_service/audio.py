"""Audio in and out, with the FFmpeg bundled in PyAV: what an upload is, how long and how loud, and PCM encoding.

Every upload is decoded here before any provider sees it: that is how a malformed file becomes a 422, a
file over the duration limit a 413, and silence an empty transcript instead of a provider's guess (speech
models are known to invent a sentence for silence). Decoding is CPU work: callers run it in a thread.
"""

import io
import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

import av
import numpy as np

from nova_common.errors import PayloadTooLarge
from voice_service.errors import MalformedAudio, UnsupportedMediaType

# Upload kinds and the media types and file extensions that name them.
MEDIA_TYPES = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/vnd.wave": "wav",
    "audio/ogg": "ogg",
    "audio/opus": "ogg",
    "application/ogg": "ogg",
    "audio/webm": "webm",
    "video/webm": "webm",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
    "audio/mp4": "m4a",
    "audio/m4a": "m4a",
    "audio/x-m4a": "m4a",
    "video/mp4": "m4a",
}
UPLOAD_MEDIA_TYPES = {
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
}
_GENERIC_TYPES = frozenset({"", "application/octet-stream"})
_EXTENSIONS = {
    ".wav": "wav",
    ".ogg": "ogg",
    ".oga": "ogg",
    ".opus": "ogg",
    ".webm": "webm",
    ".weba": "webm",
    ".mp3": "mp3",
    ".m4a": "m4a",
    ".mp4": "m4a",
}
SUPPORTED = "webm/opus, ogg, mp3, m4a, wav"

ANALYSIS_RATE = 16_000  # what speech recognisers expect, and plenty for loudness
_FRAME_SAMPLES = ANALYSIS_RATE // 50  # 20 ms frames for the speech/silence count


def sniff(head: bytes) -> str | None:
    """The kind of audio by its first bytes (its magic number), or None."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska/WebM
        return "webm"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def classify(content_type: str | None, filename: str | None, head: bytes) -> str:
    """The upload's kind; 415 for a declared non-audio type or content that is no audio we know."""
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in MEDIA_TYPES and declared not in _GENERIC_TYPES:
        raise UnsupportedMediaType(f"unsupported media type {declared!r}; send {SUPPORTED}")
    # The bytes win over the label: browsers label Ogg recordings audio/webm and the reverse.
    kind = sniff(head) or MEDIA_TYPES.get(declared)
    if kind is None and filename:
        kind = _EXTENSIONS.get(PurePath(filename).suffix.lower())
    if kind is None:
        raise UnsupportedMediaType(f"the upload is not audio of a supported kind; send {SUPPORTED}")
    return kind


@dataclass(frozen=True)
class DecodedAudio:
    kind: str
    duration_ms: int
    speech_ms: int  # time in 20 ms frames louder than the silence threshold
    pcm16k: bytes  # mono signed 16-bit little-endian at ANALYSIS_RATE, for the offline recogniser

    def is_silent(self, min_speech_ms: int) -> bool:
        return self.speech_ms < min_speech_ms


def _frames(decoded: Iterator[Any], resampler: av.AudioResampler) -> Iterator[bytes]:
    for frame in decoded:
        for out in resampler.resample(frame):
            yield out.to_ndarray().astype("<i2").tobytes()
    for out in resampler.resample(None):
        yield out.to_ndarray().astype("<i2").tobytes()


def decode(source: IO[bytes], kind: str, *, max_seconds: float, silence_dbfs: float) -> DecodedAudio:
    """Decode to 16 kHz mono, stopping as soon as the audio is longer than `max_seconds`."""
    limit = int(max_seconds * ANALYSIS_RATE)
    chunks: list[bytes] = []
    samples = 0
    try:
        with av.open(source, mode="r") as container:
            if not container.streams.audio:
                raise MalformedAudio(f"the {kind} upload has no audio stream")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=ANALYSIS_RATE)
            for chunk in _frames(container.decode(audio=0), resampler):
                chunks.append(chunk)
                samples += len(chunk) // 2
                if samples > limit:
                    raise PayloadTooLarge(
                        f"audio longer than {max_seconds:g} s (VOICE_MAX_AUDIO_SECONDS); send a shorter clip"
                    )
    except (av.FFmpegError, ValueError, EOFError) as exc:
        raise MalformedAudio(f"the upload does not decode as {kind} audio: {type(exc).__name__}") from exc
    if samples == 0:
        raise MalformedAudio(f"the {kind} upload holds no audio samples")
    pcm = b"".join(chunks)
    return DecodedAudio(
        kind=kind,
        duration_ms=round(samples * 1000 / ANALYSIS_RATE),
        speech_ms=_speech_ms(pcm, silence_dbfs),
        pcm16k=pcm,
    )


def _speech_ms(pcm: bytes, silence_dbfs: float) -> int:
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64) / 32768.0
    usable = len(samples) - len(samples) % _FRAME_SAMPLES
    if usable == 0:
        return 0
    frames = samples[:usable].reshape(-1, _FRAME_SAMPLES)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    threshold = math.pow(10.0, silence_dbfs / 20.0)
    return int(np.count_nonzero(rms > threshold)) * 20


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    """A complete WAV file (mono, 16-bit) with exact sizes."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        1,
        sample_rate,
        sample_rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file for the muxer, so it writes a stream and never seeks back."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


class StreamEncoder:
    """Encode mono 16-bit PCM to MP3 or Ogg/Opus piece by piece, returning what the muxer wrote so far."""

    def __init__(self, fmt: str, sample_rate: int) -> None:
        container, codec, rate = {
            "mp3": ("mp3", "libmp3lame", sample_rate),
            # libopus takes 48/24/16/12/8 kHz only.
            "opus": ("ogg", "libopus", 24_000 if sample_rate > 16_000 else 16_000),
        }[fmt]
        self.sample_rate = sample_rate
        self._sink = _Sink()
        self._container = av.open(self._sink, mode="w", format=container)
        stream = self._container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, av.AudioStream)
        self._stream = stream
        if fmt == "opus":
            self._stream.bit_rate = 48_000  # plenty for speech; libopus's default is about twice that
        self._resampler = av.AudioResampler(
            format=self._stream.codec_context.format, layout="mono", rate=rate
        )
        self._pts = 0

    def _mux(self, frames: list[Any]) -> None:
        for frame in frames:
            frame.pts = None
            for packet in self._stream.encode(frame):
                self._container.mux(packet)

    def feed(self, pcm: bytes) -> bytes:
        if pcm:
            samples = np.frombuffer(pcm, dtype="<i2").reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = self.sample_rate
            self._mux(self._resampler.resample(frame))
        return self._sink.take()

    def close(self) -> bytes:
        self._mux(self._resampler.resample(None))
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        return self._sink.take()
