"""AWS Lambda entry points. Each module imports only the standard library and boto3."""
