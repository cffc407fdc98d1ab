"""Parse Server's GraphQL API, generated from the live class schemas."""
