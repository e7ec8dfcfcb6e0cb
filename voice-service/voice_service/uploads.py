"""Reading a multipart audio upload without ever holding more than the limit.

FastAPI's `UploadFile` parameters would read the whole body before the route runs. Instead the route hands
the raw request stream here: a declared Content-Length over the limit is refused before a byte is read, and
the bytes are counted as they arrive, so a body that lies about its length (or sends none, chunked) is cut
off at the limit. The file part spools to disk past 1 MB.
"""

from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from nova_common.errors import BadRequest
from voice_service.errors import PayloadTooLarge, UnsupportedMediaType

# Room for the multipart boundaries, part headers and the small text fields around the file.
ENVELOPE_BYTES = 64 * 1024
_TEXT_FIELD_BYTES = 4096


@dataclass
class AudioForm:
    file: UploadFile
    language: str | None
    prompt: str | None
    provider: str | None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"upload larger than {limit // (1024 * 1024)} MB (VOICE_MAX_UPLOAD_BYTES)")


async def _counted(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit + ENVELOPE_BYTES:
            raise _too_large(limit)
        yield chunk


def _text(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a text field, not a file")
    return value.strip() or None


async def read_audio_form(request: Request, limit: int) -> AudioForm:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise UnsupportedMediaType("send the audio as multipart/form-data with a `file` field")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + ENVELOPE_BYTES:
        raise _too_large(limit)
    parser = MultiPartParser(
        request.headers, _counted(request, limit), max_files=1, max_fields=5, max_part_size=_TEXT_FIELD_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"malformed multipart body: {exc.message}") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise BadRequest("the multipart body has no `file` part with the audio")
    if upload.size is not None and upload.size > limit:
        await form.close()
        raise _too_large(limit)
    return AudioForm(
        file=upload,
        language=_text(form.get("language"), "language"),
        prompt=_text(form.get("prompt"), "prompt"),
        provider=_text(form.get("provider"), "provider"),
    )
