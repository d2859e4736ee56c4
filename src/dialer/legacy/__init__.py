"""The replaced system's API contract (``/legacy``), as a translating edge over dialer."""
