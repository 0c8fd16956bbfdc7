"""The facilitator's console: accounts, studies, rounds and their results."""
