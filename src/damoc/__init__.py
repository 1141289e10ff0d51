"""damoc."""
