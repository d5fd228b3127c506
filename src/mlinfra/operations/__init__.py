"""Operations: what the commands do, between the CLI and the stages.

Each operation (plan, apply and destroy, refresh, previews, the compliance diff) is a function
from a request (a frozen dataclass of what the user asked) to a result, told as it goes to a
progress hook (`progress.Progress`) and asking a yes-or-no question through a confirm hook.
Operations never print, never read the terminal and never exit: what the user must see is an
event for the hook, a field of the result, or an `OperationError` with the words to show.
The CLI parses arguments, builds the request, renders the events and the result, and chooses
the exit code (as Terraform's `command` hands an operation to `backend/local`).
"""
