"""CodeQR as an OAuth 2 authorization server (RFC 6749 with PKCE, RFC 7636): apps, the
consent page, codes and rotating tokens. The Stripe App uses it to connect a workspace."""
