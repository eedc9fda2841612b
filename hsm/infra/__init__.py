"""Infrastructure every other package stands on: settings, database engine and models, clock, phone numbers,
log masking, rate limits."""
