"""Intake (*pendaftaran*): the regency's register of PPKS persons and their cases."""
