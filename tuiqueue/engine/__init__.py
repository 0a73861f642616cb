"""The engine: dispatcher, runners, watcher, recovery and retention around one store."""
