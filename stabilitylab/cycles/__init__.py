"""Cycle branches: what the relaxation settles on once the fixed point is lost."""
