"""Dashboard sign-in: password check, cookie sessions, CSRF-protected forms."""
