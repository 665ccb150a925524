"""Use cases: take drivers as arguments, return values, never print."""
