"""Readers for game archives whose recorded speech is used as bona fide speech."""
