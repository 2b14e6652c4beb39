"""The activity trail: every authorization told as numbered steps from the audit trail, for people learning SMART.

It reads what the authorization server records (auth/audit.py) and never takes part in an authorization.
"""
