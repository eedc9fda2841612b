"""The HSM WhatsApp assistant's application packages, by concern (the README's layout table is the map). Rasa's
types appear only in `hsm.rasa_glue`."""

__version__ = "0.1.0"
