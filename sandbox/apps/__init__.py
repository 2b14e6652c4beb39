"""The app pages: registering, editing and trying apps (/apps) and the connected apps a person may revoke.

They sit on the authorization server's registry and tokens (auth/clients.py, auth/tokens.py) and change them only
through it, under the same rules as RFC 7591 registration.
"""
