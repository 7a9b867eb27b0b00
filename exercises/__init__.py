"""Exercises: stubs to implement, each with tests marked per task (see exercises/README.md)."""
