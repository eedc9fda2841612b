"""Rasa glue: Rasa's tracker and lock stores on the school's infrastructure, and the speed patches for a Rasa server."""
