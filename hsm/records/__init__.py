"""The school's records as a whole: the school file, its import, and the retention purge."""
