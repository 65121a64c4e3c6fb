"""Reading YAML safely, remembering where every value came from.

Only plain YAML is accepted: anchors and aliases are refused (they are how "billion laughs"
alias bombs work and no pack or case needs them), so are explicit tags (``!!null true`` would turn
a yes into unknown) and merge keys (``<<:``), a key said twice in one mapping is refused
(YAML would silently keep the last one), a date that does not exist (2015-02-30) is refused,
files over a size limit are refused before parsing, and every error says the file, line and
column.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .errors import InputError, Problem

MAX_BYTES = 1_000_000
Loc = tuple[str | int, ...]
Positions = dict[Loc, tuple[int, int]]


class _Loader(yaml.SafeLoader):
    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.MarkedYAMLError(
                None, None, "YAML aliases (*name) are not allowed in dvsafeguard files", event.start_mark
            )
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if getattr(event, "anchor", None) is not None:
            raise yaml.MarkedYAMLError(
                None, None, "YAML anchors (&name) are not allowed in dvsafeguard files", event.start_mark
            )
        if getattr(event, "tag", None) is not None:  # the bare `! "no"` too: it unquotes a value
            # an explicit tag (!!null true, !!bool x, !!int "") turns a value into another, or fails
            raise yaml.MarkedYAMLError(
                None, None, f"YAML tags ({event.tag.replace('tag:yaml.org,2002:', '!!')}) are not allowed in "
                "dvsafeguard files", event.start_mark
            )
        return super().compose_node(parent, index)


    def construct_real_date(self, node: ScalarNode) -> Any:
        """A YAML date, refused with its position when no such day exists (2015-02-30)."""
        try:
            return self.construct_yaml_timestamp(node)
        except ValueError as e:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a real date ({e})", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_real_date)


def _positions(node: Node, loc: Loc, out: Positions, repeated: list[tuple[Loc, Node, int]]) -> None:
    """Record where every field is; collect keys said twice in one mapping (``repeated``)."""
    out[loc] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, MappingNode):
        seen: dict[Any, int] = {}
        for key, value in node.value:
            k = key.value
            if key.tag == "tag:yaml.org,2002:merge":  # `<<:` would merge silently, past the check below
                raise yaml.MarkedYAMLError(None, None, "YAML merge keys (<<) are not allowed in dvsafeguard "
                                           "files", key.start_mark)
            if isinstance(k, str):  # a scalar key: its text (keys of other kinds are not compared)
                if k in seen:
                    repeated.append((loc + (k,), key, seen[k]))
                else:
                    seen[k] = key.start_mark.line + 1
            _positions(value, loc + (k,), out, repeated)
            out[loc + (k,)] = (key.start_mark.line + 1, key.start_mark.column + 1)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _positions(item, loc + (i,), out, repeated)


def loads(text: str, name: str = "<string>", what: str = "file") -> tuple[Any, Positions]:
    """Parse YAML text; return the data and a map from field path to (line, column)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InputError(what, [Problem(f"file is larger than {MAX_BYTES} bytes; refused", file=name)])
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise InputError(what, [Problem("file is empty", file=name)])
        positions: Positions = {}
        repeated: list[tuple[Loc, Node, int]] = []
        _positions(node, (), positions, repeated)
        if repeated:
            # YAML would silently keep the last of two equal keys: a fact said twice (a second
            # `concerns:` block, say) must not quietly replace the first
            raise InputError(what, [
                Problem(f"duplicate key {loc[-1]!r} (YAML would keep only the last one; the first is on "
                        f"line {first})", dotted(loc), name, key.start_mark.line + 1,
                        key.start_mark.column + 1)
                for loc, key, first in repeated])
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        msg = " ".join(str(p) for p in (e.context, e.problem) if p)
        raise InputError(what, [Problem(msg or "malformed YAML", file=name,
                                        line=mark.line + 1 if mark else None,
                                        column=mark.column + 1 if mark else None)]) from None
    except yaml.YAMLError as e:
        raise InputError(what, [Problem(f"malformed YAML: {e}", file=name)]) from None
    except RecursionError:
        raise InputError(what, [Problem("YAML is nested too deeply", file=name)]) from None
    except InputError:
        raise
    except (ValueError, TypeError) as e:  # a tagged value PyYAML cannot build (!!int x, !!float x)
        raise InputError(what, [Problem(f"malformed YAML value: {e}", file=name)]) from None
    finally:
        loader.dispose()
    return data, positions


def load(path: str | Path, what: str = "file") -> tuple[Any, Positions, bytes]:
    """Read and parse a YAML file; return data, positions and the raw bytes (for hashing)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InputError(what, [Problem(f"file is {size} bytes, larger than {MAX_BYTES}; refused",
                                            file=str(p))])
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(what, [Problem(f"cannot read file: {e.strerror}", file=str(p))]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(what, [Problem(f"not UTF-8 text ({e.reason} at byte {e.start})", file=str(p))]) from None
    if p.suffix.lower() == ".json":
        text = _json_tabs_to_spaces(text)
    data, positions = loads(text, str(p), what)
    return data, positions, raw


def _json_tabs_to_spaces(text: str) -> str:
    """JSON may be indented with tabs, which YAML refuses: each tab outside a string becomes a
    space (lines and columns stay where they were); text inside strings is left as it is."""
    if "\t" not in text:
        return text
    out: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "\t":
            ch = " "
        out.append(ch)
    return "".join(out)


def locate(positions: Positions, loc: Loc) -> tuple[int | None, int | None]:
    """The closest known (line, column) for a field path: the path itself or its nearest parent."""
    for n in range(len(loc), -1, -1):
        hit = positions.get(tuple(loc[:n]))
        if hit is not None:
            return hit
    return None, None


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
