"""WhatsApp Cloud API: webhook payloads, signatures, the async client and message rendering."""
