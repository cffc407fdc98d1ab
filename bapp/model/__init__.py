"""Parse's data model and query semantics: pure, no I/O; everything else imports it."""
