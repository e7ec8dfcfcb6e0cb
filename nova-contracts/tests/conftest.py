from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

Loc = tuple[int | str, ...]


@pytest.fixture
def first_error_loc() -> Callable[[type[BaseModel], Any], Loc]:
    """Validate `payload` against `model`, expect a failure, and return where the first error points."""

    def validate(model: type[BaseModel], payload: Any) -> Loc:
        with pytest.raises(ValidationError) as info:
            model.model_validate(payload)
        return tuple(info.value.errors()[0]["loc"])

    return validate
