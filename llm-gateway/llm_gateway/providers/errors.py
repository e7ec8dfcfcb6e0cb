"""What a failed provider call means for routing: try the next provider, or stop and tell the caller."""

from nova_common.errors import NovaError

# Timeouts, connection failures, 5xx and 429 move a fallback chain on; other 4xx are the caller's problem.
RETRYABLE_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class ProviderCallError(NovaError):
    """A provider refused or failed a call. A non-retryable one is passed through with its own status."""

    code = "provider_error"

    def __init__(
        self,
        provider: str,
        detail: str,
        *,
        status_code: int = 502,
        retryable: bool = True,
        retry_after: int | None = None,
    ) -> None:
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        super().__init__(detail, headers=headers)
        self.provider = provider
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after
        if status_code == 429:
            self.code = "provider_rate_limited"
        elif status_code in (408, 504):
            self.code = "provider_timeout"


def scrub(text: str, secrets: list[str]) -> str:
    """Remove credentials from a provider's error text before it reaches a log line or a response."""
    for secret in secrets:
        if secret and len(secret) >= 8:
            text = text.replace(secret, "***")
    return text
