"""Tests of the command-line programs as a whole (scripts/NAME.py run as a user runs them)."""
