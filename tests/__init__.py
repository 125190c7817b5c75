"""Tests: a package, so ``tests/`` itself never lands on sys.path (it would shadow frameworks)."""
