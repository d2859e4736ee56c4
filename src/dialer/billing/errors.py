from dialer.errors import InvalidInput, PaymentRequired


class InsufficientBalance(PaymentRequired):
    """The account balance does not cover this."""


class InvalidAmount(InvalidInput):
    """Amounts must be positive."""
