"""Development tools, left out of the production image: the local Meta sandbox, the terminal chat, the local stack."""
