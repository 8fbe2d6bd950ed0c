"""Test helpers shared by every package's tests."""
