"""Dataset builders and loaders."""
