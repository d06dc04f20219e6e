"""Widgets of botmon-tui. Every backend string they show is sanitized and never parsed as markup."""
