"""Reaching people: enrollment enquiries and leads, FAQ answers, notices, broadcasts and reminders."""
