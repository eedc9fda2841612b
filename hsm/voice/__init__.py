"""Voice notes: offline transcription of a sender's audio, biased towards the words that sender is likely to say."""
