"""Experiments: scripts that measured one question for docs/experiments/ (not benchmarks)."""
