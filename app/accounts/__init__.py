"""Accounts (积分账户) of every scheme: households, persons and villages, one table and
one ledger. Persons are opened here; households keep their own package and API."""
