"""The option value parsers: each raises ``argparse.ArgumentTypeError`` with a helpful message.

One family per kind of value (whole numbers, real numbers, names, lists), used by the pytest
options, the ``jarvis-evals`` subcommands and the backends' own options alike.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from evals.gate.rules import GATE_MODES, tolerance_problem
from evals.hfload import QUANT_CHOICES
from evals.records import CATEGORIES, GATE_METRICS, PROMPT_FORMATS

# --- numbers ----------------------------------------------------------------------------------


def _whole_number(value: str, minimum: int, too_small: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{value!r} {too_small}")
    return number


def parse_positive_int(value: str) -> int:
    return _whole_number(value, 1, "must be at least 1")


def parse_nonnegative_int(value: str) -> int:
    return _whole_number(value, 0, "must not be negative")


def finite_number(text: str) -> float | None:
    """Return ``text`` as a finite real number, or None (not a number, inf or nan)."""
    try:
        value = float(str(text).strip())
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _real(value: str) -> float:
    number = finite_number(value)
    if number is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number")
    return number


def parse_positive_float(value: str) -> float:
    number = _real(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive number")
    return number


def parse_fraction(value: str) -> float:
    number = _real(value)
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 1")
    return number


def parse_tolerance(value: str) -> float:
    """Parse an absolute relevance tolerance such as ``0.02``."""
    number = finite_number(value)
    if number is None or tolerance_problem(number):
        raise argparse.ArgumentTypeError(
            f"tolerance must be an absolute relevance difference between 0 and 1, e.g. 0.02; got {value!r}"
        )
    return number


def parse_min_gain(value: str) -> float:
    """Parse a minimum relative gain of fine-tuned over base: ``0.10`` or ``10%``."""
    text = str(value).strip()
    percent = text.endswith("%")
    number = finite_number(text[:-1] if percent else text)
    if number is not None and percent:
        number /= 100.0
    if number is None or number < 0:
        raise argparse.ArgumentTypeError(
            f"minimum gain must be a relative gain >= 0 of fine-tuned over base, e.g. 0.10 or 10%; got {value!r}"
        )
    return number


# --- choices and lists --------------------------------------------------------------------------


def parse_quant(value: str) -> str:
    value = str(value).strip().lower()
    if value not in QUANT_CHOICES:
        raise argparse.ArgumentTypeError(f"{value!r} is not a quantization; use one of {', '.join(QUANT_CHOICES)}")
    return value


def parse_batch_size(value: str) -> str:
    value = str(value).strip().lower()
    if value == "auto":
        return value
    return str(parse_positive_int(value))


def parse_prompt_format(value: str) -> str:
    text = str(value).strip().lower()
    if text not in PROMPT_FORMATS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a prompt format; use {' or '.join(PROMPT_FORMATS)}")
    return text


def parse_gate_mode(value: str) -> str:
    """Parse ``tolerance`` or ``significant`` (case-insensitive)."""
    mode = str(value).strip().lower()
    if mode not in GATE_MODES:
        raise argparse.ArgumentTypeError(f"gate mode must be 'tolerance' or 'significant'; got {value!r}")
    return mode


def parse_gate_metric(value: str) -> str:
    """Parse ``relevance`` or ``task_success`` (case-insensitive; ``task-success`` too)."""
    metric = str(value).strip().lower().replace("-", "_")
    if metric not in GATE_METRICS:
        raise argparse.ArgumentTypeError(f"gate metric must be 'relevance' or 'task_success'; got {value!r}")
    return metric


def parse_noise_levels(value: str) -> tuple[int, ...]:
    """Parse speech-recognition noise levels such as ``1,2,3`` (edits per request; 0, the clean case, is implied)."""
    try:
        levels = {int(part) for part in str(value).split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a list of noise levels; write e.g. 1,2,3") from None
    if not levels - {0} or any(not 0 <= lv <= 3 for lv in levels):
        raise argparse.ArgumentTypeError(
            f"{value!r}: noise levels go from 1 to 3 (0 is the clean case); write e.g. 1,2,3"
        )
    return tuple(sorted(levels - {0}))


def parse_category_tolerances(lines: str | Iterable[str]) -> dict[str, float]:
    """Parse ``category=value`` lines (the ini ``jarvis_category_tolerances``); blanks and ``#`` lines skip.

    A single string may also separate entries with commas: ``routing=0.05, commands=0.03``.
    """
    if isinstance(lines, str):
        lines = [part for line in lines.splitlines() if not line.strip().startswith("#") for part in line.split(",")]
    out: dict[str, float] = {}
    for raw in lines:
        line = str(raw).strip()
        if not line or line.startswith("#"):
            continue
        category, sep, number = (part.strip() for part in line.partition("="))
        if not sep or not category:
            raise argparse.ArgumentTypeError(f"category tolerance {line!r} is not category=value, e.g. routing=0.05")
        if category not in CATEGORIES:
            raise argparse.ArgumentTypeError(
                f"category tolerance {line!r}: unknown category {category!r}; use one of {', '.join(CATEGORIES)}"
            )
        if category in out:
            raise argparse.ArgumentTypeError(f"category tolerance for {category!r} is given twice; keep one line")
        value = finite_number(number)
        if value is None or tolerance_problem(value):
            raise argparse.ArgumentTypeError(
                f"category tolerance {line!r}: the value must be between 0 and 1, e.g. {category}=0.05"
            )
        out[category] = value
    return out


# --- names and addresses ---------------------------------------------------------------------------

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_env_name(value: str) -> str:
    """Parse the *name* of an environment variable; the message never repeats a value that is not one."""
    if not _ENV_NAME.match(str(value)):
        raise argparse.ArgumentTypeError(
            "the value given is not a variable name (it must not be the key itself): pass the NAME of the "
            "environment variable that holds the key, e.g. OPENAI_API_KEY"
        )
    return str(value)


def redact_url(url: str) -> str:
    """Return ``url`` without userinfo, query or fragment: the form of a server's URL that may be recorded.

    ``http://user:SECRET@host/v1?token=T`` becomes ``http://host/v1``: results, reports and logs
    are uploaded as CI artifacts, and a credential in them is a leaked credential.
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def parse_base_url(value: str) -> str:
    """Parse a server's API root such as ``http://127.0.0.1:8000/v1`` (a trailing slash is dropped)."""
    url = str(value).strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https") or not rest:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1")
    return url


def parse_decoding(value: str) -> str:
    """Parse ``--jarvis-decoding``: greedy (one answer per case) or sampled."""
    text = str(value).strip().lower()
    if text not in ("greedy", "sampled"):
        raise argparse.ArgumentTypeError(f"decoding must be greedy or sampled, got {value!r}")
    return text


def parse_temperature(value: str) -> float:
    """Parse ``--jarvis-temperature``: a positive number (greedy decoding is --jarvis-decoding=greedy)."""
    number = finite_number(value)
    if number is None or number <= 0:
        raise argparse.ArgumentTypeError(
            f"temperature must be a number above 0, e.g. 0.6, got {value!r} (for greedy decoding, leave sampling off)"
        )
    return number


def parse_top_p(value: str) -> float:
    """Parse ``--jarvis-top-p``: a probability mass in (0, 1]."""
    number = finite_number(value)
    if number is None or not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"top-p must be above 0 and at most 1, e.g. 0.95, got {value!r}")
    return number


def parse_nats(value: str) -> float:
    """Parse a margin in nats (``--jarvis-near-tie``, ``--jarvis-gate-margin``): a number at least 0."""
    number = finite_number(value)
    if number is None or number < 0:
        raise argparse.ArgumentTypeError(f"a margin in nats must be a number at least 0, e.g. 1.0, got {value!r}")
    return number
