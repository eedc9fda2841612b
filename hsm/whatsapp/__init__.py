"""The WhatsApp channel's internals: webhook payloads and signatures, the group-commit intake and the store, the
processing of each message after Meta's 200 and where it runs, the Graph API client, replies within Meta's limits."""
