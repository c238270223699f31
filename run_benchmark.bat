@echo off
REM Run the JARVIS benchmark on Windows with uv (https://docs.astral.sh/uv/).
REM
REM   run_benchmark.bat                     the full benchmark
REM   run_benchmark.bat --jarvis-quick      one case per category, short answers
REM
REM Any arguments are passed to pytest. The exit code is pytest's (0: passed, 1: a test or
REM the gate failed). The lock is requirements.lock (pip's format, see docs\installing.md), so the environment is built with `uv venv` and
REM `uv pip install` rather than `uv sync`, and commands run with `uv run --no-sync`: a plain
REM `uv run` would write a lock file and re-sync the environment before every command.
REM
REM GPU users: PyPI's torch for Windows is a CPU build. Set UV_TORCH_BACKEND=auto (a uv
REM preview feature) before the first run, or install your CUDA build of torch into .venv.
setlocal
cd /d "%~dp0"

where uv >nul 2>nul
if errorlevel 1 (
    echo run_benchmark: uv is not installed; see https://docs.astral.sh/uv/getting-started/installation/ 1>&2
    exit /b 1
)

REM Create the environment once; `uv venv` refuses to replace an existing one.
if not exist ".venv\Scripts\python.exe" (
    uv venv .venv
    if errorlevel 1 exit /b 1
)

REM Installs are no-ops (and fast) once everything is there. The versions come from
REM requirements.lock (pinned, hash-checked; made on Linux, so uv adds what only Windows needs,
REM such as colorama), then the project itself without touching them.
uv pip install -r requirements.lock
if errorlevel 1 exit /b 1
uv pip install --no-deps -e .
if errorlevel 1 exit /b 1

REM Train the demo LoRA adapter unless output\*\final already holds one.
uv run --no-sync jarvis-evals train --if-missing
if errorlevel 1 exit /b 1

uv run --no-sync pytest -m jarvis %*
exit /b %ERRORLEVEL%
