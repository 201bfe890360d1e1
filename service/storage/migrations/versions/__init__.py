"""Migration revisions, oldest first. Once released, a revision is never edited: add a new one."""
