"""The upload failures the kit's error hierarchy has no class for yet; rendered by the kit's one handler."""

from nova_common.errors import NovaError


class PayloadTooLarge(NovaError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(NovaError):
    status_code = 415
    code = "unsupported_media_type"


class MalformedAudio(NovaError):
    """The upload claims to be audio of a supported kind but does not decode."""

    status_code = 422
    code = "malformed_audio"
