"""The Textual dashboard: an app that embeds the engine and shows its events."""
