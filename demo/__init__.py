"""`triage demo`: the whole bot on the shipped sample records, mail and Slack messages."""
