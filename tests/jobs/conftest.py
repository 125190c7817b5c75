"""Fixtures for the job tests."""

from __future__ import annotations

from tests.propagation._propagators import use_propagators  # noqa: F401 - a fixture
