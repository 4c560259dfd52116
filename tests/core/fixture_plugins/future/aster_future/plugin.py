"""A family built for a future host; importing it here would be a bug."""
raise AssertionError("an incompatible plugin must not be imported")
