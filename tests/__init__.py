"""EAIO tests."""
