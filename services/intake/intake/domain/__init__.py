"""The regency's register: persons, consent, cases and their lifecycle, referrals.

Plain functions on a unit of work; no nameko here. Each function that reads or writes a
personal record writes the audit entry in the same transaction, and each state change that
other offices must know of emits its (pseudonymous) event in that transaction too.

One module per part of the register, each importing only those below it:
``common`` <- ``persons`` <- ``consent`` <- ``cases`` <- ``duplicates``, ``referrals``, ``search``.
"""
