"""Upload failures the kit's error hierarchy has no class for yet (413 is the kit's `PayloadTooLarge`)."""

from nova_common.errors import NovaError


class UnsupportedMediaType(NovaError):
    status_code = 415
    code = "unsupported_media_type"


class MalformedAudio(NovaError):
    """The upload claims to be audio of a supported kind but does not decode."""

    status_code = 422
    code = "malformed_audio"
