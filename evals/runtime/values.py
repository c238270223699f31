"""How the runtime reads the free-text values a spoken request passes: durations, clock times, names.

A model writes "5 minutes", "cinq minutes", "PT5M" or "00:05:00" for the same timer; a runtime
that compared strings would grade spelling, not routing. These readers accept the spellings a
French or English voice assistant meets and return None for anything else (no guessing).
"""

from __future__ import annotations

import re
import unicodedata

_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "’": "'", "‘": "'"})


def fold(text: str) -> str:
    """Lower-case, strip accents and trim: "  Crêpes " -> "crepes" (how expect compares strings)."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


# Number words up to sixty (what a timer or a clock time needs), French and English.
_WORDS: dict[str, int] = {
    **dict.fromkeys(("un", "une", "one"), 1),
    **{"deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9, "dix": 10},
    **{"onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20},
    **{"trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "midi": 12, "minuit": 0},
    "quatrevingt": 80,  # "quatre-vingt(s)", joined first so that it is not read as 4 + 20
    **{"two": 2, "three": 3, "four": 4, "five": 5, "seven": 7, "eight": 8, "nine": 9, "ten": 10},
    **{"eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50},
}
_NUMBER_RUN = re.compile(r"\b(?:%s)(?:(?:[\s-]+(?:et[\s-]+)?)(?:%s))*\b" % (("|".join(_WORDS),) * 2))


def _digits(text: str) -> str:
    """Replace runs of number words by their sum: "dix-huit heures" -> "18 heures"."""
    text = re.sub(r"\bquatre[\s-]vingts?\b", "quatrevingt", text)

    def total(match: re.Match[str]) -> str:
        words = [w for w in re.split(r"[\s-]+", match.group()) if w != "et"]
        if "midi" in words or "minuit" in words:  # "midi" is a clock time, never a sum
            return "12 h" if words == ["midi"] else "0 h" if words == ["minuit"] else match.group()
        return str(sum(_WORDS[w] for w in words))

    return _NUMBER_RUN.sub(total, text)


_UNITS: dict[str, int] = {
    **dict.fromkeys(("s", "sec", "secs", "seconde", "secondes", "second", "seconds"), 1),
    **dict.fromkeys(("m", "mn", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "heure", "heures", "hour", "hours"), 3600),
}
# Words a timer request wraps its duration in; any other word makes the duration unreadable.
_FILLERS = frozenset({"de", "d", "et", "pour", "pendant", "dans", "minuteur", "timer", "for", "in", "a", "an", "of"})
_ISO = re.compile(r"^pt(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_CLOCK_DURATION = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})$")


def read_duration(text: str) -> int | None:
    """Seconds in a spoken or written duration ("5 minutes", "1h30", "PT90S", "00:05:00"), else None."""
    folded = fold(text).replace("demi-heure", "30 minutes").replace("demi heure", "30 minutes")
    folded = re.sub(r"\btrois quarts d'heure", "45 minutes", folded).replace("quart d'heure", "15 minutes")
    folded = re.sub(r"\b(?:une?|1)\s+(30|15) minutes", r"\1 minutes", folded)  # "une demi-heure", "un quart d'heure"
    folded = _digits(folded)
    if iso := _ISO.match(folded):
        seconds = sum(int(v or 0) * u for v, u in zip(iso.groups(), (3600, 60, 1), strict=True))
        return seconds or None
    if clock := _CLOCK_DURATION.match(folded):
        hours, minutes, seconds = (int(v or 0) for v in clock.groups())
        return hours * 3600 + minutes * 60 + seconds or None
    total, pending, last_unit = 0, None, 0
    tokens = re.findall(r"\d+(?:[.,]\d+)?|[a-z]+", folded)
    for i, token in enumerate(tokens):
        if token[0].isdigit():
            if pending is not None:
                return None
            pending = float(token.replace(",", "."))
        elif token in _UNITS:
            if pending is None:
                return None
            last_unit = _UNITS[token]
            total, pending = total + round(pending * last_unit), None
        elif token in ("demie", "demi") and last_unit and tokens[i - 1] == "et":
            total += last_unit // 2
        elif token == "quart" and last_unit and tokens[i - 1] == "et":  # "une heure et quart"
            total += last_unit // 4
        elif token not in _FILLERS:
            return None
        elif token in ("minuteur", "timer"):  # "un minuteur de 5 minutes": the count was of timers
            pending = None
    if pending is not None:  # "1h30": a bare number after hours are minutes, after minutes seconds
        if last_unit not in (3600, 60):
            return None
        total += round(pending * last_unit // 60)
    return total or None


_HOUR_MINUTE = re.compile(r"\b(\d{1,2})\s*(?::|h\b|heures?\b|h(?=\d))\s*(\d{2})?(?:\s*(am|pm)\b)?")
_AM_PM = re.compile(r"\b(\d{1,2})\s*(am|pm)\b")
_RELATIVE = re.compile(r"\b(?:dans|in)\s+\d")


def read_clock(text: str) -> str | None:
    """The clock time in a spoken time ("18 heures", "à 18h30", "6pm", "18:00") as "HH:MM", else None.

    A relative time ("dans 2 heures") is not a clock time: its clock depends on when it is said.
    """
    folded = _digits(re.sub(r"\d{4}-\d{2}-\d{2}t?", " ", fold(text)))  # an ISO date-time keeps its time
    if _RELATIVE.search(folded):
        return None
    hour, minute, suffix, rest = -1, 0, "", ""
    if match := _HOUR_MINUTE.search(folded):
        hour, minute, suffix = int(match.group(1)), int(match.group(2) or 0), match.group(3) or ""
        # Only after a bare hour ("9 h", not "9 h 10") can French add a quarter or a half.
        rest = "" if match.group(2) else folded[match.end() :]
    elif match := _AM_PM.search(folded):
        hour, suffix = int(match.group(1)), match.group(2)
    if rest:  # French quarters and halves, and the evening: "9 h et quart", "7 h du soir"
        if re.match(r"\s*et (?:le )?quart\b", rest):
            minute = 15
        elif re.match(r"\s*et demie?\b", rest):
            minute = 30
        elif re.match(r"\s*moins (?:le )?quart\b", rest):
            hour, minute = hour - 1, 45
        if re.search(r"\b(?:du soir|de l'apres-midi|de l'aprem)\b", rest) and 1 <= hour < 12:
            hour += 12
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return f"{hour:02d}:{minute:02d}"
