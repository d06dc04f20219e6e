"""The Textual UI. It talks to ``botmon_tui.monitor`` and reads models from ``botmon_tui.medplum``."""
