"""What every vendor tool shares: argument validation, refusal and error handling, redaction, truncation."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from aisoc.redact import Redactor
from aisoc.tools import ToolError
from integrations.errors import IntegrationError, ReadOnlyViolation
from integrations.readonly import clip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VendorTool:
    """A read-only lookup offered to the model (satisfies the kernel's ``Tool`` protocol).

    ``invoke`` validates the arguments, runs the lookup, turns expected failures (vendor refused,
    timeout, read-only refusal) into :class:`ToolError`, redacts secrets and truncates the result
    to ``max_chars`` of JSON so it fits a prompt.
    """

    name: str
    description: str
    args_schema: type[BaseModel]
    fn: Callable[..., Any]
    redact: Redactor = field(default_factory=Redactor.standard)
    max_chars: int = 4000

    def invoke(self, args: dict[str, Any]) -> Any:
        """Run the lookup with ``args``.

        Raises:
            ToolError: bad arguments, or the lookup failed in an expected way.
        """
        try:
            parsed = self.args_schema.model_validate(args)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "arguments"
            raise ToolError(f"{self.name}: bad arguments: {first['msg']} ({where})") from e
        started = time.perf_counter()
        try:
            result = self.fn(**parsed.model_dump())
        except ReadOnlyViolation as e:
            raise ToolError(self.redact.text(f"{self.name}: refused: {e}")) from e
        except (IntegrationError, ToolError) as e:
            raise ToolError(self.redact.text(f"{self.name}: {e}")) from e
        except Exception as e:  # an SDK's own exception may quote the request it failed on
            log.warning("tool %s failed: %s", self.name, type(e).__name__)
            raise ToolError(self.redact.text(f"{self.name}: failed: {type(e).__name__}: {e}")) from e
        log.debug("tool %s answered in %.3fs", self.name, time.perf_counter() - started)
        return clip(self.redact.value(result), self.max_chars)
