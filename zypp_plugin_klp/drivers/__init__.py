"""The only code that touches the host (kernel, rpm database, files), each behind a small interface."""
