"""File storage adapters: local directory and GridFS."""
