class ServiceError(Exception):
    """A refusal the user can read: `message` is a translatable sentence in their language."""

    def __init__(self, message, *, code: str = ""):
        super().__init__(str(message))
        self.message = message
        self.code = code


class InvalidTransition(ServiceError):
    pass
