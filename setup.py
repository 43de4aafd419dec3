"""Lets Beam's `--setup_file` build our sdist without the `build` package; pyproject.toml has the metadata."""

from setuptools import setup

setup()
