"""Infrastructure of the migration orchestration: the CDK stack and one construct per capability."""
