"""Tests of the Powersensor protocol library, its simulator and its command-line tool."""
