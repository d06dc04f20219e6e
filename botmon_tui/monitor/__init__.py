"""Polling state: what the screens show, kept up to date cheaply. Pure Python, no Textual."""
