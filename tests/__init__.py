"""Tests for energy_local."""
