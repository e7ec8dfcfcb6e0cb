"""Reading a multipart audio upload: one `file` part and a few short text fields.

The kit's body cap (`create_service_app(body_limits=…)`, see `main.py`) refuses a declared Content-Length over
the upload limit before a byte is read and cuts a chunked body off at the limit while it streams; the
multipart parser then spools the file part to disk past 1 MB, so no upload is ever held whole in memory.
"""

import re
from dataclasses import dataclass

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request

from nova_common.errors import BadRequest, PayloadTooLarge
from voice_service.errors import UnsupportedMediaType

# Room for the multipart boundaries, part headers and the small text fields around the file.
ENVELOPE_BYTES = 64 * 1024
_TEXT_FIELD_BYTES = 4096
LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$"  # ISO 639-1/-3 with an optional region
MAX_PROMPT_CHARS = 1000


@dataclass
class AudioForm:
    file: UploadFile
    language: str | None
    prompt: str | None
    provider: str | None


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"audio file larger than {limit} bytes (VOICE_MAX_UPLOAD_BYTES)")


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
    parser = MultiPartParser(
        request.headers, request.stream(), max_files=1, max_fields=5, max_part_size=_TEXT_FIELD_BYTES
    )
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"malformed multipart body: {exc.message}") from exc
    except ClientDisconnect as exc:
        # The client went away, or the kit's body cap cut the upload off (its 413 has gone out already).
        raise BadRequest("the upload ended before its last part") from exc
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        raise BadRequest("the multipart body has no `file` part with the audio")
    if upload.size is not None and upload.size > limit:
        await form.close()
        raise _too_large(limit)
    language = _text(form.get("language"), "language")
    prompt = _text(form.get("prompt"), "prompt")
    if language is not None and not re.fullmatch(LANGUAGE_PATTERN, language):
        await form.close()
        raise BadRequest("language must be a language code such as en, de or pt-BR")
    if prompt is not None and len(prompt) > MAX_PROMPT_CHARS:
        await form.close()
        raise BadRequest(f"prompt must be at most {MAX_PROMPT_CHARS} characters")
    return AudioForm(
        file=upload, language=language, prompt=prompt, provider=_text(form.get("provider"), "provider")
    )
