"""Servers moved by AWS Application Migration Service (MGN): their lifecycle and its gates.

Design: docs/server-migration.md. The package, by job::

    spec       ServerSpec: what the runtime needs of a planned server (plain data)
    mgn        the MGN client wrapper (boto3 client injected) and what it reads, typed
    gates      the go/no-go of each server transition and of an application's traffic,
               pure functions over what MGN and the tracking store say
    lifecycle  ServerLifecycle: test, cutover and finalize, recorded as ``server#<id>``
               with version-guarded transitions
    agent      the replication agent's installer command with short-lived credentials

Only the standard library, botocore and boto3 are imported (this package may ship to
Lambda): nothing here imports the plan model.
"""
