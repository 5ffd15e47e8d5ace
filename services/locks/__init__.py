"""File-edit locks: leases granted in the log order of architect.locks.commands, replicated as CRDT state."""
