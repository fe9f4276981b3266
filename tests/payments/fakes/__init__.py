"""Fake LINE Pay and TapPay servers: real HTTP on 127.0.0.1, for the real adapters to talk to."""
