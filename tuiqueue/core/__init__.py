"""The model and its rules: jobs, statuses, params, the registry, events and shared records."""
