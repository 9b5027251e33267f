"""Database: engine, session, column types and the models of every area."""
