"""The HTML pages' task-success parts: what each arm ran, the state it left, why it failed, the history.

Every part is empty for an answer the tool runtime did not judge (a results file of an earlier
round), so such a page reads exactly as before; ``TASK_CSS`` is added to a page only when one of
its answers was judged (``css_for``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from evals.records import ArmScore, Case
from evals.reports.task import FALSE_ACTIVATION, arguments_text, expect_text

TASK_CSS = """
.history{margin:4px 0;padding:0;list-style:none;font-size:12.5px}
.history li{margin:2px 0;padding-left:8px;border-left:2px solid var(--line);color:var(--muted)}
.runtime{margin:6px 0 0;font-size:12.5px}
.runtime ul{margin:2px 0;padding-left:18px}
.runtime li{margin:1px 0;overflow-wrap:anywhere}
.call{background:#eef1f4;border-radius:4px;padding:0 5px}
.call.ok{background:#e3f2e4;color:#1b5e20}.call.failed{background:#fde7e7;color:#9f1c1c}
.state code{background:#f0f2f4;border-radius:4px;padding:0 5px}
.unmet li{color:var(--neg)}
.badge.task-ok{background:#e3f2e4;color:#1b5e20;border-color:#b3d9b5}
.badge.task-fail{background:#fde7e7;color:#9f1c1c;border-color:#f3b6b6}
.badge.false-activation{background:#fce4ec;color:#8e1945;border-color:#f1b4c8}
.badge.abstained{background:#e8f0fe;color:#1a4c9c;border-color:#b7cdf5}
"""


def judged(score: ArmScore) -> bool:
    return score.task_success is not None or bool(score.executed)


def css_for(scores: Sequence[ArmScore]) -> str:
    """``TASK_CSS`` when one of the answers was judged by the tool runtime, else nothing."""
    return TASK_CSS if any(judged(s) for s in scores) else ""


def task_badges(score: ArmScore) -> str:
    """The arm's task outcome as badges: task success or failure, and abstained / false activation."""
    badges = []
    if score.task_success is not None:
        ok = score.task_success >= 1.0
        badges.append(("task-ok" if ok else "task-fail", f"task {'success' if ok else 'failed'}"))
    if score.false_activation is True:
        badges.append(("false-activation", FALSE_ACTIVATION))
    elif score.false_activation is False:
        badges.append(("abstained", "abstained"))
    return "".join(f'<span class="badge {css}">{escape(text)}</span>' for css, text in badges)


def runtime_block(score: ArmScore) -> str:
    """Under an arm's answer: every call as the runtime ran it, the state change, the unmet parts."""
    if not judged(score):
        return ""
    calls = "".join(
        f'<li><code class="call {"ok" if c.ok else "failed"}">{escape(c.name)}({escape(arguments_text(c.arguments))})'
        f"</code> "
        + (
            f"ok{': ' + escape(c.result) if c.result else ''}"
            if c.ok
            else f"failed{' (' + escape(c.error_kind) + ')' if c.error_kind else ''}"
            f"{': ' + escape(c.result) if c.result else ''}"
        )
        + "</li>"
        for c in score.executed
    )
    parts = [
        '<div class="ran"><span class="k">ran</span>'
        + (f"<ul>{calls}</ul>" if calls else ' <em class="muted">nothing</em>')
        + "</div>"
    ]
    if score.state_diff:
        items = "".join(f"<li><code>{escape(line)}</code></li>" for line in score.state_diff)
        parts.append(f'<div class="state"><span class="k">state</span><ul>{items}</ul></div>')
    if score.task_success == 0 and score.unmet:
        items = "".join(f"<li>{escape(line)}</li>" for line in score.unmet)
        parts.append(f'<div class="unmet"><span class="k">unmet</span><ul>{items}</ul></div>')
    return f'<div class="runtime searchable">{"".join(parts)}</div>'


def history_block(case: Case) -> str:
    """The turns before the prompt of a follow-up, in order."""
    if not case.history:
        return ""
    items = "".join(f'<li><span class="k">{escape(t.role)}</span>{escape(t.content)}</li>' for t in case.history)
    return f'<ol class="history searchable" aria-label="earlier turns">{items}</ol>'


def expect_line(case: Case) -> str:
    """What the case expects the state to become (`expect:`), when it says."""
    if case.expect is None:
        return ""
    return f'<p class="expected"><span class="k">expect</span> <code>{escape(expect_text(case))}</code></p>'
