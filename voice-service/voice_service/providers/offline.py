"""The offline voice: eSpeak NG speaks and PocketSphinx listens, on this machine, with no key and no network.

Both come with everything they need inside their wheels (`espeakng-loader`: libespeak-ng and its data;
`pocketsphinx`: the US English acoustic model, dictionary and language model), so nothing is downloaded at
run time. eSpeak NG is robotic but instant; PocketSphinx is a small, English-only recogniser whose accuracy
on real speech is modest. For good offline recognition point `voice.openai_compatible_url` at a local
faster-whisper server (see the README).

Neither library is thread-safe: each engine runs one job at a time under its own lock, in a worker thread.
"""

import asyncio
import ctypes
import os
import threading
from collections.abc import AsyncIterator, Callable
from functools import cached_property
from typing import Any

import structlog

from nova_common.errors import BadRequest
from nova_contracts.voice import AudioFormat, Voice, VoiceProvider
from voice_service.audio import ANALYSIS_RATE, StreamEncoder, wav_bytes
from voice_service.providers.base import Heard, Upload

log = structlog.get_logger("voice_service.offline")

DEFAULT_VOICE = "en-us"
BASE_WORDS_PER_MINUTE = 175  # eSpeak NG's own default rate: speed 1.0
# From speak_lib.h.
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_ESPEAK_RATE = 1
_ESPEAK_CHARS_UTF8 = 1
_EE_OK = 0

_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class _EspeakVoice(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


class Espeak:
    """libespeak-ng through ctypes, initialised once per process."""

    def __init__(self) -> None:
        import espeakng_loader

        self._lock = threading.Lock()
        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_EspeakVoice))
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0
        )
        if self.sample_rate <= 0:
            raise RuntimeError("eSpeak NG did not initialise")
        self._lib = lib
        self._sink: Callable[[bytes], None] = lambda _pcm: None
        # Kept on the instance: ctypes must hold the callback for as long as the library may call it.
        self._callback = _SynthCallback(self._on_audio)
        lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: Any, count: int, _events: Any) -> int:
        if wav and count > 0:
            self._sink(ctypes.string_at(wav, count * 2))
        return 0  # 0: go on synthesising

    def speak(self, text: str, *, voice: str, words_per_minute: int, sink: Callable[[bytes], None]) -> None:
        """Synthesize `text`, handing 16-bit mono PCM at `sample_rate` to `sink` as it is produced."""
        encoded = text.encode()
        with self._lock:
            if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise BadRequest(
                    f"unknown offline voice {voice!r}; see GET /api/v1/voice/voices?provider=offline"
                )
            self._lib.espeak_SetParameter(_ESPEAK_RATE, words_per_minute, 0)
            self._sink = sink
            try:
                self._lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, _ESPEAK_CHARS_UTF8, None, None)
            finally:
                self._sink = lambda _pcm: None

    def voices(self) -> list[Voice]:
        with self._lock:
            listed = self._lib.espeak_ListVoices(None)
            found: dict[str, Voice] = {}
            index = 0
            while listed[index]:
                entry = listed[index].contents
                # `languages` is a priority byte then a NUL-terminated language name (the first one is enough).
                language = (entry.languages or b"\x00")[1:].decode(errors="replace") or None
                identifier = (entry.identifier or b"").decode(errors="replace")
                name = (entry.name or b"").decode(errors="replace")
                voice_id = language or identifier
                found.setdefault(voice_id, Voice(id=voice_id, name=name, language=language))
                index += 1
        return sorted(found.values(), key=lambda v: v.id)


class Sphinx:
    """PocketSphinx with the US English model its wheel ships."""

    def __init__(self) -> None:
        from pocketsphinx import Decoder

        self._lock = threading.Lock()
        # Without the second (flat-lexicon) pass it decodes in about half the time, with the same accuracy
        # on eSpeak's voice in our measurements.
        self._decoder = Decoder(samprate=ANALYSIS_RATE, logfn=os.devnull, fwdflat=False)

    def recognise(self, pcm16k: bytes) -> str:
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(pcm16k, full_utt=True)
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis is not None else ""


class OfflineVoice:
    """Both directions, loaded on first use (a few hundred ms each) so a service that never speaks pays nothing."""

    name = VoiceProvider.OFFLINE
    default_voice = DEFAULT_VOICE

    @cached_property
    def espeak(self) -> Espeak:
        return Espeak()

    @cached_property
    def sphinx(self) -> Sphinx:
        return Sphinx()

    def problem(self) -> str | None:
        """Why the offline voice cannot run here, or None."""
        try:
            import espeakng_loader
            import pocketsphinx  # noqa: F401
        except ImportError as exc:
            return f"not installed: {exc.name}"
        if not os.path.exists(espeakng_loader.get_library_path()):
            return "libespeak-ng is missing from espeakng-loader"
        return None

    async def transcribe(self, upload: Upload, *, language: str | None, prompt: str | None) -> Heard:
        if language and not language.lower().startswith("en"):
            raise BadRequest("the offline recogniser understands English only; send language=en or none")
        text = await asyncio.to_thread(lambda: self.sphinx.recognise(upload.audio.pcm16k))
        return Heard(text=text, language="en")

    async def voices(self) -> list[Voice]:
        return await asyncio.to_thread(lambda: self.espeak.voices())

    async def synthesize(
        self, text: str, *, voice: str, fmt: AudioFormat, speed: float
    ) -> AsyncIterator[bytes]:
        espeak = await asyncio.to_thread(lambda: self.espeak)
        rate = espeak.sample_rate
        words_per_minute = max(80, min(450, round(BASE_WORDS_PER_MINUTE * speed)))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()

        def put(item: bytes | BaseException | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            try:
                if fmt is AudioFormat.WAV:
                    # WAV goes out whole, with exact sizes in its header; mp3 and opus stream.
                    pcm: list[bytes] = []
                    espeak.speak(text, voice=voice, words_per_minute=words_per_minute, sink=pcm.append)
                    put(wav_bytes(b"".join(pcm), rate))
                else:
                    encoder = StreamEncoder(fmt.value, rate)

                    def encode(chunk: bytes) -> None:
                        if encoded := encoder.feed(chunk):
                            put(encoded)

                    espeak.speak(text, voice=voice, words_per_minute=words_per_minute, sink=encode)
                    put(encoder.close())
                put(None)
            except BaseException as exc:
                put(exc)

        worker = asyncio.create_task(asyncio.to_thread(work))
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                if item:
                    yield item
        finally:
            # The thread finishes its sentence even if the listener left; never leave it unawaited.
            await asyncio.shield(worker)
