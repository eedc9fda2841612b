"""The HSM WhatsApp assistant's domain package: data, services and WhatsApp plumbing, free of Rasa types."""

__version__ = "0.1.0"
