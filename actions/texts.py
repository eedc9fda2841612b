"""Fixed texts that more than one action module sends (texts, not domain responses: see actions/questions.py)."""

NO_CALL_TEXT = "No problem! Message me any time if you'd like to know more or book a free trial class. 🎵"
WHAT_TO_CHANGE_TEXT = (
    "What should I change? e.g. 'Ahmed was absent' or 'Sarah was also present'. Say 'cancel' to drop it."
)
