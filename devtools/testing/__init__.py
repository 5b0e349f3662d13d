"""Test support: the fixtures and helpers every test package shares (issue 20).

`devtools.testing.plugin` is loaded as a pytest plugin (`-p devtools.testing.plugin` in pyproject.toml's addopts)
and registers the fixture modules; tests import helpers from the modules here, never from a conftest.py or from
another test module (tests/test_architecture.py checks it). A conftest.py keeps only what is local to its folder.
"""
