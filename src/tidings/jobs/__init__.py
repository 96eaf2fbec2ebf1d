"""Jobs: the task queue (in-process, or Dramatiq workers on Redis) and shared politeness."""
