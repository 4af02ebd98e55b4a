"""The EKM library's errors: one hierarchy, so callers can catch exactly what they mean."""


class EkmError(Exception):
    """Base class of every error this library raises."""


class InvalidAddressError(EkmError, ValueError):
    """A meter address that is not 1-12 decimal digits."""


class EkmPortError(EkmError, OSError):
    """The serial port (or serial-over-TCP connection) cannot be opened or has gone away."""


class EkmTimeoutError(EkmError, TimeoutError):
    """The device did not answer (completely) within the transaction timeout."""


class EkmFrameError(EkmError):
    """A reply arrived but is not a well-formed frame (length, STX/ETX, 7-bit, field syntax)."""


class EkmCrcError(EkmFrameError):
    """A reply frame whose CRC does not match its contents."""


class EkmAddressMismatchError(EkmFrameError):
    """A valid frame from another meter than the one addressed (cross-talk or a late reply)."""


class EkmRequestTypeError(EkmFrameError):
    """A valid v4 frame answering another request type (block B for A, or the reverse)."""


class EkmCommandError(EkmError):
    """A command step was answered with NAK, with something else than ACK, or not at all."""

    def __init__(self, step: str, detail: str) -> None:
        """Name the command step (``password`` or ``write``) and what went wrong."""
        super().__init__(f"{step} not acknowledged: {detail}")
        self.step = step


class EkmPasswordError(EkmCommandError):
    """The meter did not acknowledge the password; the write was not sent."""

    def __init__(self, detail: str) -> None:
        """Describe the reply that was not an ACK."""
        super().__init__("password", detail)
