"""What helps a reader read: article revisions and their diffs, coverage, source health, length."""
