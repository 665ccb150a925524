"""Pure logic: text and values in, values out; no I/O."""
