"""Entitlement records: import, sources (database or HTTP), identification and checks."""
