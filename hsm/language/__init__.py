"""Text as people type it on WhatsApp in Hyderabad: Indian scripts romanised, SMS spellings of Hinglish evened out."""
