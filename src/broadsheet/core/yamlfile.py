"""Reading YAML that anyone may have written (params.yaml, at any revision): bounded, strict, one-line errors.

A YAML file is untrusted input: anchors and aliases can make 1 KB expand to
gigabytes (a "billion laughs"), deep nesting exhausts the stack, a 5,000-digit
integer is refused by Python only after parsing, and a duplicate key silently
wins. This loader refuses each of them with the line it found it on.
"""

from __future__ import annotations

import yaml

from broadsheet.core.errors import BroadsheetError

MAX_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_INT_DIGITS = 19
"""Longer integers are refused: no setting needs one, and int64 holds 19 digits."""


class _Refused(Exception):
    pass


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing anchors, aliases, duplicate keys, deep nesting and huge integers."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(f"an anchor or alias at line {line}: they are not allowed here")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(f"nesting deeper than {MAX_DEPTH} levels at line {line}")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise _Refused(f"the key {str(key)[:40]!r} twice at line {key_node.start_mark.line + 1}")
                seen.add(key)
        return super().construct_mapping(node, deep)


def _construct_int(loader: _StrictLoader, node):
    digits = len(node.value.lstrip("+-").replace("_", "").removeprefix("0x").removeprefix("0o").removeprefix("0b"))
    if digits > MAX_INT_DIGITS:  # decimal, hex, octal or binary: no setting needs that many digits
        raise _Refused(f"an integer of {digits} digits at line {node.start_mark.line + 1}")
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def parse(data: bytes | str, where: str):
    """The YAML document in ``data`` (from ``where``, for messages); BroadsheetError for anything refused."""
    if len(data) > MAX_BYTES:
        raise BroadsheetError(f"{where} is {len(data)} bytes, more than the {MAX_BYTES} allowed")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise BroadsheetError(f"{where} is not UTF-8 text (byte {e.start})") from None
    try:
        return yaml.load(data, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except _Refused as e:
        raise BroadsheetError(f"{where} has {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise BroadsheetError(f"{where} is not valid YAML{at}") from None
    except (ValueError, RecursionError) as e:
        raise BroadsheetError(f"{where} has a value YAML cannot hold: {str(e)[:80]}") from None
