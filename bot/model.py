"""The optional chat model in the bot: it may phrase answers and route questions, never act.

Two narrow uses, each checked by the bot and each falling back to the deterministic path:

- :func:`phraser`: rephrases an answer's numbered record lines; :func:`bot.answer.check_phrasing`
  keeps its prose only when every sentence cites lines that hold every name and number it uses.
- :func:`router`: places a sentence the grammar cannot into one of the read-only commands. Its answer
  must validate against :class:`Route`, whose schema names only read-only commands: whatever the
  model says, it cannot decide, close, approve or pause anything.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from bot.answer import Phraser

log = logging.getLogger(__name__)

ROUTE_INSTRUCTIONS = (
    "An analyst wrote to the SOC bot. Answer with one JSON object only, "
    '{"command": C}, where C is one of "explain" (why something happened to a case, host, IP or user), '
    '"case" (where a case stands), "status" (is the system healthy), "oncall" (who is on call), '
    '"pending" (what waits on a person: approvals, reviews, actions not reported done), '
    '"cases" (which cases are open, or what happened over a time such as overnight or today), '
    '"help", or "none" when it asks for none of these.\n\nThe message:\n'
)
"""What the routing model is told before the message (the message is data, not instructions)."""
_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


class Route(BaseModel):
    """The routing model's answer: a read-only command, or none."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: Literal["explain", "case", "status", "oncall", "pending", "cases", "help", "none"]


def _text(model: Any, prompt: str) -> str:
    reply = model.invoke(prompt)
    content = getattr(reply, "content", reply)
    return content if isinstance(content, str) else json.dumps(content)


def phraser(model: Any) -> Phraser:
    """A phraser over a LangChain chat model (``invoke(text) -> message``)."""

    def phrase(prompt: str) -> str:
        return _text(model, prompt)

    return phrase


def route(model: Any, text: str) -> str | None:
    """The read-only command the model places ``text`` in, or None (none, or an invalid answer)."""
    try:
        raw = _text(model, ROUTE_INSTRUCTIONS + json.dumps(text[:2000]))
        found = _OBJECT.search(raw)
        chosen = Route.model_validate_json(found.group(0) if found else raw).command
    except ValidationError as e:
        log.info("the routing model's answer was not a read-only command: %s", e.errors()[:1])
        return None
    except Exception as e:  # a broken model leaves the grammar's answer
        log.warning("the routing model failed: %s", e)
        return None
    return None if chosen == "none" else chosen


def router(model: Any) -> Any:
    """A router over a LangChain chat model: ``text -> command | None``."""
    return lambda text: route(model, text)
