"""The screens: the bot list (home), a bot's Event tab, and help."""
