"""The MongoDB store and its in-memory emulation, in Parse Server's MongoDB layout."""
