"""Runtime of the migration orchestration: everything that runs a cutover. Never imports CDK."""
