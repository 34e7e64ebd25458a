"""The mail edge: the IMAP connector and the parser that turns raw messages into ParsedMail."""
