"""The user's data is the user's: export everything, delete an account or a case."""
