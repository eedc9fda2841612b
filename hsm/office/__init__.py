"""The office: the admin HTTP API, the admin CLI commands, and the scheduler process."""
