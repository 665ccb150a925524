"""Helpers for packagers and our own tests: build live patch RPMs and install them into roots."""
