"""What each reader follows, saves and has read; their "For you" page."""
