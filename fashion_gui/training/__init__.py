"""Trainers per method, progress events and checkpoints (Qt-free; the app runs them in a separate process)."""
