"""Money: class balances and dues, payment links and paid webhooks."""
