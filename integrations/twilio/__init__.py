"""Twilio: webhook signature check, webhook handlers, TwiML."""
