"""Database cutover and failback: one writer, one name, no acknowledged write lost.

See docs/database-cutover.md for the design. Modules:

``names``        names shared by the stack and the runtime (replication slots, reverse tasks)
"""
