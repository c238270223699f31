"""Root conftest: pytester drives the plugin end to end in the project's own tests.

The jarvis plugin itself is registered once, by the ``pytest11`` entry point in pyproject.toml.
"""

pytest_plugins = ["pytester"]
