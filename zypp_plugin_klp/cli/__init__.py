"""Command-line entry points: parse argv, call one service, render, decide the exit code."""
