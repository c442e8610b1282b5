"""argparse that answers a mistyped command, choice or option with "did you mean ...", and shared argument types."""

from __future__ import annotations

import argparse
import difflib
from typing import Any, Sequence

from rankiqa._names import unknown_name_message

__all__ = ["SuggestingParser", "positive_int", "positive_int_list"]


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_int_list(text: str) -> list[int]:
    """An argparse type: comma-separated integers >= 1, e.g. ``128,192``."""
    return [positive_int(t.strip()) for t in text.split(",")]


class SuggestingParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` (sub-commands included) whose errors suggest the closest valid name.

    ``rankiqa scroe`` says "did you mean 'score'?", ``--pooling actvity`` "did you mean
    'activity'?", and an unknown option the closest option of the chosen command.
    """

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            kind = "command" if isinstance(action, argparse._SubParsersAction) else action.dest.replace("_", " ")
            raise argparse.ArgumentError(action, unknown_name_message(kind, value, map(str, action.choices)))

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> argparse.Namespace:
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}" + _hints(extras, self._known_options(parsed)))
        return parsed

    def parse_known_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> Any:
        self._words = list(args) if args is not None else []  # for error(): a typo behind a missing option
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> Any:
        if message.startswith("the following arguments are required"):
            unknown = [w for w in getattr(self, "_words", []) if w.startswith("--")
                       and w.split("=")[0] not in self._option_string_actions]
            message += _hints(unknown, list(self._option_string_actions))
        super().error(message)

    def _known_options(self, parsed: argparse.Namespace) -> list[str]:
        """Option strings of this parser and of the sub-command ``parsed`` chose, if any."""
        options = list(self._option_string_actions)
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                chosen = action.choices.get(getattr(parsed, action.dest, None) or "")
                if isinstance(chosen, SuggestingParser):
                    options += chosen._known_options(parsed)
        return options


def _hints(words: Sequence[str], options: list[str]) -> str:
    """" ('--crop': did you mean '--crops'?)" for the words that look like a mistyped option."""
    hints = []
    for word in words:
        # long for long: "--ot" is nearer "-o" than "--output" by string ratio
        same_kind = [o for o in options if o.startswith("--") == word.startswith("--")]
        close = difflib.get_close_matches(word.split("=")[0], same_kind, n=1, cutoff=0.6)
        if word.startswith("-") and close:
            hints.append(f"{word!r}: did you mean {close[0]!r}?")
    return f" ({'; '.join(hints)})" if hints else ""
