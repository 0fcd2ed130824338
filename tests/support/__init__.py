"""Helpers for the test suite: a real Apache httpd with a generated configuration."""
