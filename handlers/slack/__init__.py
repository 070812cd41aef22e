"""The Slack adapter (slack-bolt): slash command, intake channels, buttons, App Home, owner DMs.

Thin: it translates Slack requests into calls on the core (`bot`) and renders the results.
"""
