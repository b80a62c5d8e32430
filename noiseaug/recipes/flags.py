"""``noiseaug train RECIPE``'s options, generated from the recipe's config dataclass (one place per default).

Each field becomes ``--field-name`` (``dest`` the field name), with its type, its default and its help from the
field's ``metadata["help"]``; ``Literal[...]`` fields get ``choices``, ``bool`` fields (default False) are
switches, ``X | None`` fields take an ``X`` and default to None (their help says what None means), fields
without a default are required. Help lines end with ``(default: ...)`` unless the default is None or False.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints


def _base_type(hint: Any) -> Any:
    """``X`` of ``X | None`` (and ``Optional[X]``); other hints unchanged."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def field_help(field: dataclasses.Field) -> str:
    """The help of a config field: its ``metadata["help"]`` (empty when it has none)."""
    return str(field.metadata.get("help", ""))


def field_default(field: dataclasses.Field) -> Any:
    """A field's default (``dataclasses.MISSING`` when it has none)."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def literal_choices(config: type) -> dict[str, tuple[Any, ...]]:
    """``{field name: allowed values}`` of the dataclass ``config``'s ``Literal[...]`` fields (also ``... | None``)."""
    hints = get_type_hints(config)
    return {
        field.name: get_args(hint)
        for field in dataclasses.fields(config)
        if get_origin(hint := _base_type(hints[field.name])) is Literal
    }


def add_config_arguments(parser: argparse.ArgumentParser, config: type) -> None:
    """Add one option per field of the dataclass ``config`` to ``parser`` (see the module docs)."""
    hints, literals = get_type_hints(config), literal_choices(config)
    for field in dataclasses.fields(config):
        hint, default = _base_type(hints[field.name]), field_default(field)
        text = field_help(field).replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": field.name}
        if hint is bool:
            kwargs["action"] = "store_true"
        elif field.name in literals:
            choices = literals[field.name]
            kwargs.update(choices=choices, type=type(choices[0]))
        else:
            kwargs["type"] = hint
        if default is dataclasses.MISSING:
            kwargs["required"] = True
        else:
            kwargs["default"] = default
            if default is not None and default is not False:
                text = f"{text} (default: %(default)s)" if text else "(default: %(default)s)"
        parser.add_argument("--" + field.name.replace("_", "-"), help=text, **kwargs)


def config_from_arguments(config: type, args: argparse.Namespace) -> Any:
    """The ``config`` instance the parsed ``args`` describe (the fields :func:`add_config_arguments` added)."""
    return config(**{field.name: getattr(args, field.name) for field in dataclasses.fields(config)})


__all__ = ["add_config_arguments", "config_from_arguments", "field_default", "field_help", "literal_choices"]
