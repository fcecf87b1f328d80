"""Frozen config dataclasses: ranges declared once, checked once, overridden from strings.

A field's metadata may hold `min`, `max` (inclusive unless `min_open`/`max_open`),
`choices`, `check` (a function returning a problem or None), `help`, and `log` (a
learning-rate-like value best shown on a log scale). `override(cfg, {"lr": "0.01"})` parses strings by the field's type,
checks ranges, and returns a new config; unknown keys and bad values raise `ConfigError`
listing the valid keys with their ranges. A config class may add a rule across its fields
as a `problems()` method returning what is wrong or None (SASRec: hidden a multiple of heads).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import field

from recsys_core.errors import ConfigError


def param(
    default,
    *,
    help: str = "",  # noqa: A002
    min=None,  # noqa: A002
    max=None,  # noqa: A002
    min_open=False,
    max_open=False,
    choices=None,
    check=None,
    log=False,
    added=False,
):
    """A config field with its checks. `added=True` marks a field added after runs were
    stored: at its default it is left out of the config hash, so those runs keep their keys."""
    meta = {
        "help": help,
        "min": min,
        "max": max,
        "min_open": min_open,
        "max_open": max_open,
        "choices": choices,
        "check": check,
        "log": log,
        "added": added,
    }
    if isinstance(default, (list, tuple)):
        return field(default=tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def recency_param():
    """The `recency_half_life` option models share: a user's interactions weigh less the
    more of their interactions came after them (leave-one-out by time asks for the next)."""
    return param(
        0.0, min=0, max=10_000, help="halve an interaction's weight every N later interactions of its user (0 = off)"
    )


def describe_field(f: dataclasses.Field, owner) -> str:
    """`owner`: the config class (its defaults shown) or an instance, such as a model's
    shipped default (its values shown as the defaults)."""
    m = f.metadata
    parts = [f"{f.name} ({_type_name(f)}, default {getattr(owner, f.name)!r})"]
    if m.get("choices"):
        parts.append("one of " + "/".join(map(str, m["choices"])))
    lo, hi = m.get("min"), m.get("max")
    if lo is not None or hi is not None:
        left = "(" if m.get("min_open") else "["
        right = ")" if m.get("max_open") else "]"
        parts.append(f"in {left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}")
    if m.get("help"):
        parts.append(m["help"])
    return ": ".join([parts[0], ", ".join(parts[1:])]) if len(parts) > 1 else parts[0]


def describe(cfg) -> str:
    """One line per key: type, default, range, help (`cfg`: a class or an instance, as for
    describe_field)."""
    return "\n".join("  " + describe_field(f, cfg) for f in dataclasses.fields(cfg))


def _type_name(f) -> str:
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return str(t).replace("typing.", "")


def validate(cfg, base=None) -> None:
    """Raise ConfigError when a value is outside its declared range or choices (the message
    lists the keys with `base`'s values as their defaults, where given)."""
    shown = base if base is not None else type(cfg)
    for f in dataclasses.fields(cfg):
        v, m = getattr(cfg, f.name), f.metadata
        values = v if isinstance(v, tuple) else (v,)
        for x in values:
            if m.get("choices") is not None and x not in m["choices"]:
                raise _bad(shown, f, v)
            problem = m["check"](x) if m.get("check") is not None else None
            if problem:
                raise _bad(shown, f, v, problem)
            if isinstance(x, (int, float)) and not isinstance(x, bool):
                lo, hi = m.get("min"), m.get("max")
                if lo is not None and (x < lo or (m.get("min_open") and x == lo)):
                    raise _bad(shown, f, v)
                if hi is not None and (x > hi or (m.get("max_open") and x == hi)):
                    raise _bad(shown, f, v)
    problem = cfg.problems() if hasattr(cfg, "problems") else None  # a rule across fields
    if problem:
        raise ConfigError(f"{problem}\nvalid keys:\n{describe(shown)}")


def _bad(base, f, v, problem: str = "") -> ConfigError:
    what = problem or describe_field(f, base)
    return ConfigError(f"invalid value {v!r} for {f.name}: {what}\nvalid keys:\n{describe(base)}")


def override(cfg, values: dict):
    """A copy of `cfg` with `values` (strings or typed values) applied and validated."""
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    hints = typing.get_type_hints(type(cfg))
    changes = {}
    for key, raw in values.items():
        if key not in fields:
            raise ConfigError(f"unknown key {key!r} for {type(cfg).__name__}\nvalid keys:\n{describe(cfg)}")
        try:
            changes[key] = _parse(raw, hints[key])
        except (ValueError, TypeError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot read {key}={raw!r}: {e}\nvalid keys:\n{describe(cfg)}") from e
    new = dataclasses.replace(cfg, **changes)
    validate(new, base=cfg)
    return new


def _parse(raw, hint):
    origin = typing.get_origin(hint)
    if not isinstance(raw, str):
        return tuple(raw) if origin is tuple else raw
    if hint is bool:
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError("expected true or false")
    if hint is int:
        return int(raw)
    if hint is float:
        return float(raw)
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if args else str
        text = raw.strip().strip("[]()")
        items = [p for p in text.replace("-", ",").split(",") if p.strip()] if text else []
        return tuple(_parse(p.strip(), inner) for p in items)
    return raw


def to_dict(cfg) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}


def from_dict(cfg_cls, d: dict):
    names = {f.name for f in dataclasses.fields(cfg_cls)}
    return override(cfg_cls(), {k: v for k, v in d.items() if k in names})


def config_hash(cfg) -> str:
    import hashlib

    d = to_dict(cfg)
    for f in dataclasses.fields(cfg):
        default = list(f.default) if isinstance(f.default, tuple) else f.default  # as `to_dict` writes it
        if f.metadata.get("added") and d.get(f.name) == default:
            d.pop(f.name)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]
