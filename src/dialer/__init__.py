"""dialer: outbound voice-AI call campaigns."""
