"""A fake LINE Messaging API: real HTTP on 127.0.0.1, for the real line-bot-sdk client to talk to."""
