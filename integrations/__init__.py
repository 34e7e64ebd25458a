"""The edges: Twilio webhooks and REST, IMAP, SMTP. They import triage, never the reverse."""
