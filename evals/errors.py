"""User-facing errors: one line that names the file and says what to do."""

from __future__ import annotations


class JarvisError(Exception):
    """An error the user can fix; shown as one line, never with a traceback."""
